package main

import (
	"errors"
	"flag"
	"io"
	"os"
	"strings"

	"github.com/restartsys/restartsys/runsc-harness/internal/cliflag"
	"github.com/restartsys/restartsys/runsc-harness/internal/gvisor"
	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
)

// defaultGVisor is the affected release the main job builds by default.
const defaultGVisor = "2026-05-18"

// platformVariant is the variant of a command that takes --platform only
// (no network, runsc's directfs default); a bad platform is a usage error.
func platformVariant(platform string) (sandbox.Variant, error) {
	v := sandbox.Variant{Platform: platform, Network: "none", DirectFS: "default"}
	if err := v.Validate(); err != nil {
		return v, cliflag.Usagef("--platform: %v", err)
	}
	return v, nil
}

// parseFlags parses args with fs, rejecting stray positional arguments.
// Asked for help, it prints fs's usage on stdout and returns errHelp; on a
// parse error (unknown flag, bad value) it returns a usageError naming the
// flag, printed once by main.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := parseFlagsArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cliflag.Usagef("unexpected argument(s): %s", strings.Join(fs.Args(), " "))
	}
	return nil
}

// parseFlagsArgs is parseFlags for a command that takes positional
// arguments after its flags.
func parseFlagsArgs(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(os.Stdout)
		fs.Usage()
		return errHelp
	case err != nil:
		return cliflag.UsageError{Err: err}
	}
	return nil
}

// checkGVisorSpec rejects, before anything is listed or downloaded, a bad
// --NAME value (gvisor.CheckSpecs): a usage error.
func checkGVisorSpec(flagName, spec string, allowMany bool) error {
	if err := gvisor.CheckSpecs(spec, allowMany); err != nil {
		return cliflag.Usagef("--%s: %v", flagName, err)
	}
	return nil
}
