// Command runsc-harness builds stock and patched runsc for a pinned gVisor
// release, runs the guest programs of syscalltests/ under runsc variants and
// natively, and reports where runsc diverges from Linux.
//
// Usage:
//
//	runsc-harness <command> [flags]
//
// Run "runsc-harness help" for the list of commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand. Each lives in its own cmd_<name>.go file and
// registers itself from init.
type command struct {
	name     string
	synopsis string
	// run executes the command with its own arguments (after the name).
	run func(ctx context.Context, args []string) error
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("duplicate command " + c.name)
	}
	commands[c.name] = c
}

// errUsage is returned by a command whose arguments are wrong; main prints
// the command's usage and exits 2.
var errUsage = errors.New("usage")

func usage() {
	fmt.Fprintf(os.Stderr, "usage: runsc-harness <command> [flags]\n\ncommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", n, commands[n].synopsis)
	}
}

func main() {
	os.Exit(realMain(os.Args[1:]))
}

func realMain(args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage()
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "runsc-harness: unknown command %q\n", args[0])
		usage()
		return 2
	}
	// Ctrl-C and SIGTERM cancel the context, so every command gets to clean
	// up its sandboxes and temporary trees before exiting.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := c.run(ctx, args[1:]); err != nil {
		if errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp) {
			return 2
		}
		fmt.Fprintf(os.Stderr, "runsc-harness %s: %v\n", c.name, err)
		return 1
	}
	return 0
}
