// Throwaway: runs suite.Main as runsc-harness would. Deleted before the end.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/restartsys/restartsys/runsc-harness/internal/cliflag"
	"github.com/restartsys/restartsys/runsc-harness/internal/upstream/suite"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := suite.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	var ue cliflag.UsageError
	switch {
	case err == nil, errors.Is(err, cliflag.ErrHelp):
		os.Exit(0)
	case errors.As(err, &ue):
		fmt.Fprintf(os.Stderr, "upstream suite: %v\n", err)
		os.Exit(2)
	}
	fmt.Fprintf(os.Stderr, "upstream suite: %v\n", err)
	os.Exit(1)
}
