package e2e

import (
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Clients lists what `e2e CLIENT` drives: runc directly (this package),
// docker (Docker-in-Docker under runsc, internal/e2e/docker) and
// containerd (ctr through gVisor's shim, internal/e2e/docker).
var Clients = []string{"runc", ClientDocker, ClientContainerd}

// clientDefaults are each client's default counts and modes.
var clientDefaults = map[string]struct {
	runs, execs int
	modes       string
	about       string
}{
	"runc":           {50, 50, "plain,storm,asyncpreemptoff", "sequential runc run and runc exec -d inside one runsc sandbox"},
	ClientDocker:     {0, 50, "plain,storm", "sequential docker run and docker exec in a Docker-in-Docker container under runsc (host dockerd with runtimes runsc-NAME)"},
	ClientContainerd: {0, 20, "plain", "ctr run -d and sequential ctr task exec through containerd and gVisor's containerd-shim-runsc-v1 (the shim is built from --gvisor's snapshot)"},
}

// Register defines on fs the flags of o that `e2e CLIENT` takes, with the
// client's defaults, and returns where the --modes list goes (ParseModes
// reads it).
func (o *SuiteOptions) Register(fs *flag.FlagSet, client string) *string {
	d := clientDefaults[client]
	fs.StringVar(&o.RuncVersion, "runc-version", DefaultRuncVersion, "runc module version to build (github.com/opencontainers/runc)")
	fs.StringVar(&o.Platform, "platform", "systrap", "runsc platform: systrap or ptrace")
	fs.IntVar(&o.Runs, "runs", d.runs, "sequential run operations per mode (runc run, docker run, ctr run)")
	fs.IntVar(&o.Execs, "execs", d.execs, "sequential exec operations per mode (runc exec -d, docker exec, ctr task exec) into one long-lived container")
	fs.DurationVar(&o.StormInterval, "storm-interval", 200*time.Microsecond, "SIGURG storm period")
	fs.DurationVar(&o.OpTimeout, "op-timeout", 30*time.Second, "deadline of one operation")
	fs.DurationVar(&o.Timeout, "timeout", 0, "deadline of each sandbox (default: 1m (runc) or 2m + 3s per operation)")
	return fs.String("modes", d.modes, "modes, comma-separated: plain (no storm), storm (SIGURG to every runc thread), asyncpreemptoff (runc only: GODEBUG=asyncpreemptoff=1)")
}

// ClientUsage is the usage line of `e2e CLIENT`, with what each client does.
func ClientUsage(client string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: runsc-harness e2e %s [flags]\n\nclients (e2e CLIENT):\n", client)
	for _, c := range Clients {
		fmt.Fprintf(&b, "  %-11s %s\n", c, clientDefaults[c].about)
	}
	return b.String()
}

// CheckClient validates a client name and the modes it takes.
func CheckClient(client string, modes []Mode) error {
	if !slices.Contains(Clients, client) {
		return fmt.Errorf("unknown client %q: want e2e runc, e2e docker or e2e containerd", client)
	}
	if client != "runc" && slices.Contains(modes, ModeAsyncPreemptOff) {
		return fmt.Errorf("--modes: asyncpreemptoff is for e2e runc only")
	}
	if client == ClientContainerd && slices.ContainsFunc(modes, func(m Mode) bool { return m != ModePlain }) {
		// No runc runs on the containerd path: the shim drives runsc.
		return fmt.Errorf("--modes: e2e containerd runs no runc to storm; plain only")
	}
	return nil
}
