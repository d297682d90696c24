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
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/restartsys/restartsys/runsc-harness/internal/cliflag"
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

// errHelp is returned by a command that printed its usage because it was
// asked to (-h, --help, or "runsc-harness help CMD"); main exits 0.
var errHelp = errors.New("help printed")

func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: runsc-harness <command> [flags]\n\ncommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].synopsis)
	}
	fmt.Fprintf(w, "\nRun 'runsc-harness help <command>' (or <command> --help) for a command's flags.\n")
	fmt.Fprintf(w, "Exit status: 0 success; 1 the command ran and its verdict failed, or a runtime error; 2 a usage error.\n")
}

func main() {
	os.Exit(realMain(os.Args[1:]))
}

// realMain runs the command line args and returns the exit status, as the
// contract in usage says.
func realMain(args []string) int {
	switch {
	case len(args) == 0:
		usage(os.Stderr)
		return 2
	case args[0] == "-h" || args[0] == "--help" || args[0] == "-help":
		usage(os.Stdout)
		return 0
	case args[0] == "help" && len(args) == 1:
		usage(os.Stdout)
		return 0
	case args[0] == "help":
		if len(args) > 2 {
			fmt.Fprintf(os.Stderr, "runsc-harness help: one command at a time, got %q\n", args[1:])
			return 2
		}
		// "help CMD" is "CMD --help" (for e2e, "e2e runc --help").
		args = append([]string{args[1]}, helpArgs(args[1])...)
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "runsc-harness: unknown command %q\n", args[0])
		usage(os.Stderr)
		return 2
	}
	// Ctrl-C and SIGTERM cancel the context, so every command gets to clean
	// up its sandboxes and temporary trees before exiting.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := c.run(ctx, args[1:])
	var ue cliflag.UsageError
	switch {
	case err == nil, errors.Is(err, errHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(os.Stderr, "runsc-harness %s: %v\nRun 'runsc-harness help %s' for usage.\n", c.name, ue.Err, c.name)
		return 2
	}
	fmt.Fprintf(os.Stderr, "runsc-harness %s: %v\n", c.name, err)
	return 1
}

// helpArgs are the arguments that make command name print its usage.
func helpArgs(name string) []string {
	if name == "e2e" {
		return []string{"runc", "--help"}
	}
	return []string{"--help"}
}
