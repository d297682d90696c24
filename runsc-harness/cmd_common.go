package main

import (
	"context"
	"os"

	"github.com/restartsys/restartsys/runsc-harness/internal/cliflag"
	"github.com/restartsys/restartsys/runsc-harness/internal/gvisor"
	"github.com/restartsys/restartsys/runsc-harness/internal/harness"
	"github.com/restartsys/restartsys/runsc-harness/internal/report"
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

// checkGVisorSpec rejects, before anything is listed or downloaded, a bad
// --NAME value (gvisor.CheckSpecs): a usage error. An empty spec (no
// version asked for) passes.
func checkGVisorSpec(flagName, spec string, allowMany bool) error {
	if spec == "" {
		return nil
	}
	if err := gvisor.CheckSpecs(spec, allowMany); err != nil {
		return cliflag.Usagef("--%s: %v", flagName, err)
	}
	return nil
}

// addBuiltRunsc builds (or takes from the cache) stock and patched runsc
// for c.gvisor, each booted (harness.BuildVersion), and adds them to
// c.Runscs as "stock" and "patched".
func addBuiltRunsc(ctx context.Context, c *runConfig) error {
	ser, _, err := c.sets.Load()
	if err != nil {
		return err
	}
	rs, err := harness.BuildVersion(ctx, c.gvisor, ser, c.sets.SetList(), c.cache, os.Stderr)
	c.Runscs = append(c.Runscs, rs...)
	return err
}

// runGuests builds the runsc of c.gvisor if asked, then runs the
// configured guests through harness.Run.
func runGuests(ctx context.Context, c *runConfig) (*report.Document, error) {
	if c.gvisor != "" {
		if err := addBuiltRunsc(ctx, c); err != nil {
			return nil, err
		}
	}
	o := c.Options
	o.Log, o.Stdout = os.Stderr, os.Stdout
	if c.native {
		o.Variants = nil
	}
	return harness.Run(ctx, o)
}
