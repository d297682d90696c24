// Throwaway: compile the util archive and some targets. Deleted before the end.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/restartsys/restartsys/runsc-harness/internal/upstream/suite"
)

func main() {
	src := os.Args[1]
	b, _ := os.ReadFile(filepath.Join(src, "test/syscalls/linux/BUILD"))
	ts, err := suite.ParseBuild("BUILD", b, "amd64")
	if err != nil {
		panic(err)
	}
	fmt.Println(len(ts), "targets")
	c := &suite.Compiler{Src: src, Dir: os.Args[2], Jobs: 1, Log: os.Stderr}
	u, err := c.Util(context.Background())
	if err != nil {
		panic(err)
	}
	fmt.Println("util", u.Archive, u.Errors)
	want := os.Args[3:]
	var wg sync.WaitGroup
	for _, t := range ts {
		ok := false
		for _, w := range want {
			if strings.HasPrefix(t.Name, w) {
				ok = true
			}
		}
		if !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			bin, err := c.Binary(context.Background(), t, u)
			fmt.Println(t.Name, bin, err)
		}()
	}
	wg.Wait()
}
