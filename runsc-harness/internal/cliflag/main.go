package cliflag

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// ErrHelp is returned by a command that printed its usage because it was
// asked to (-h, --help, or "PROG help CMD"); Main exits 0.
var ErrHelp = errors.New("help printed")

// Command is one subcommand of a program run by Main.
type Command struct {
	// Name is what selects it; Synopsis is its line in the usage.
	Name, Synopsis string
	// Run executes the command with its own arguments (after the name).
	Run func(ctx context.Context, args []string) error
	// HelpArgs make Run print its usage; "--help" when nil ("runc",
	// "--help" for a command whose flags follow a subcommand).
	HelpArgs []string
}

// Main runs the command line args of program prog with the commands cmds
// and returns the exit status, the Go tool's contract: 0 success (and
// help asked for), 1 the command ran and failed (its verdict, or a runtime
// error), 2 a usage error (unknown command or flag, bad value, stray
// argument). Each error is printed once; a usage error adds a hint. Ctrl-C
// and SIGTERM cancel the command's context, so that it cleans up before
// exiting.
func Main(prog string, cmds map[string]*Command, args []string) int {
	switch {
	case len(args) == 0:
		usage(os.Stderr, prog, cmds)
		return 2
	case args[0] == "-h" || args[0] == "--help" || args[0] == "-help" || (args[0] == "help" && len(args) == 1):
		usage(os.Stdout, prog, cmds)
		return 0
	case args[0] == "help":
		if len(args) > 2 {
			fmt.Fprintf(os.Stderr, "%s help: one command at a time, got %q\n", prog, args[1:])
			return 2
		}
		if c, ok := cmds[args[1]]; ok {
			args = append([]string{args[1]}, c.helpArgs()...)
		}
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "%s: unknown command %q\n", prog, args[0])
		usage(os.Stderr, prog, cmds)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := c.Run(ctx, args[1:])
	var ue UsageError
	switch {
	case err == nil, errors.Is(err, ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(os.Stderr, "%s %s: %v\nRun '%s help %s' for usage.\n", prog, c.Name, ue.Err, prog, c.Name)
		return 2
	}
	fmt.Fprintf(os.Stderr, "%s %s: %v\n", prog, c.Name, err)
	return 1
}

// HelpArgs are the arguments that make c print its usage.
func (c *Command) helpArgs() []string {
	if c.HelpArgs == nil {
		return []string{"--help"}
	}
	return c.HelpArgs
}

// HelpArgsOf returns the arguments that make the command name of cmds
// print its usage.
func HelpArgsOf(cmds map[string]*Command, name string) []string {
	if c, ok := cmds[name]; ok {
		return c.helpArgs()
	}
	return []string{"--help"}
}

func usage(w io.Writer, prog string, cmds map[string]*Command) {
	fmt.Fprintf(w, "usage: %s <command> [flags]\n\ncommands:\n", prog)
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].Synopsis)
	}
	fmt.Fprintf(w, "\nRun '%s help <command>' (or <command> --help) for a command's flags.\n", prog)
	fmt.Fprintf(w, "Exit status: 0 success; 1 the command ran and its verdict failed, or a runtime error; 2 a usage error.\n")
}

// Parse parses args with fs and rejects stray positional arguments. Asked
// for help, it prints fs's usage on stdout and returns ErrHelp; a parse
// error (unknown flag, bad value) is a UsageError naming the flag, which
// Main prints once.
func Parse(fs *flag.FlagSet, args []string) error {
	if err := ParseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return Usagef("unexpected argument(s): %s", strings.Join(fs.Args(), " "))
	}
	return nil
}

// ParseArgs is Parse for a command that takes positional arguments after
// its flags.
func ParseArgs(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(os.Stdout)
		fs.Usage()
		return ErrHelp
	case err != nil:
		return UsageError{Err: err}
	}
	return nil
}
