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
	"os"

	"github.com/restartsys/restartsys/runsc-harness/internal/cliflag"
)

// command is one subcommand. Each lives in its own cmd_<name>.go file and
// registers itself from init.
type command struct {
	name     string
	synopsis string
	// run executes the command with its own arguments (after the name).
	run func(ctx context.Context, args []string) error
	// helpArgs make run print its usage; "--help" when nil.
	helpArgs []string
}

var commands = map[string]*cliflag.Command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("duplicate command " + c.name)
	}
	commands[c.name] = &cliflag.Command{Name: c.name, Synopsis: c.synopsis, Run: c.run, HelpArgs: c.helpArgs}
}

// errHelp, parseFlags and parseFlagsArgs are cliflag's: every command
// parses its flags the same way (cliflag.Parse).
var (
	errHelp        = cliflag.ErrHelp
	parseFlags     = cliflag.Parse
	parseFlagsArgs = cliflag.ParseArgs
)

func main() {
	os.Exit(realMain(os.Args[1:]))
}

// realMain runs the command line args and returns the exit status
// (cliflag.Main's contract).
func realMain(args []string) int {
	return cliflag.Main("runsc-harness", commands, args)
}
