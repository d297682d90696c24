// Throwaway debug. Deleted before the end.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/restartsys/restartsys/runsc-harness/internal/upstream/suite"
)

func main() {
	p := suite.Place{Name: "stock", Runsc: os.Args[1], Platform: "systrap", NoFile: 70000, Work: os.Args[2]}
	r, err := p.Run(context.Background(), os.Args[3], []string{"x"}, 30e9)
	fmt.Printf("%+v %v\n", r, err)
}
