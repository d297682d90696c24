// Throwaway: render the docs section of a record directory. Deleted before the end.
package main

import (
	"os"

	"github.com/restartsys/restartsys/runsc-harness/internal/upstream/suite/suitereport"
)

func main() {
	if err := suitereport.RenderSection(os.Stdout, os.Args[1]); err != nil {
		panic(err)
	}
}
