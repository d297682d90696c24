package suite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/restartsys/restartsys/runsc-harness/internal/oci"
	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
	"github.com/restartsys/restartsys/runsc-harness/internal/upstream/suite/suitereport"
	"golang.org/x/sys/unix"
)

// platformSupport is GVISOR_PLATFORM_SUPPORT as gVisor's test runner sets
// it (test/runner/defs.bzl from tools/bazeldefs/platforms.bzl).
var platformSupport = map[string]string{
	"systrap": "32BIT:FALSE,ALIGNMENT_CHECK:TRUE,INT3:TRUE,MULTIPROCESS:TRUE,VSYSCALL:TRUE",
	"ptrace":  "32BIT:FALSE,ALIGNMENT_CHECK:TRUE,INT3:TRUE,MULTIPROCESS:TRUE,VSYSCALL:TRUE",
}

// allCaps is every capability runsc knows (runsc/specutils), which gVisor's
// runner gives a test (testutil.NewSpecWithArgs).
var allCaps = strings.Fields(`CAP_DAC_READ_SEARCH CAP_LINUX_IMMUTABLE CAP_NET_BROADCAST CAP_NET_ADMIN
CAP_IPC_LOCK CAP_IPC_OWNER CAP_SYS_MODULE CAP_SYS_RAWIO CAP_SYS_PTRACE CAP_SYS_PACCT CAP_SYS_ADMIN
CAP_SYS_BOOT CAP_SYS_NICE CAP_SYS_RESOURCE CAP_SYS_TIME CAP_SYS_TTY_CONFIG CAP_LEASE CAP_AUDIT_CONTROL
CAP_MAC_OVERRIDE CAP_MAC_ADMIN CAP_SYSLOG CAP_WAKE_ALARM CAP_BLOCK_SUSPEND CAP_AUDIT_READ CAP_PERFMON
CAP_BPF CAP_CHECKPOINT_RESTORE`)

const hostPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Place runs test binaries natively or under one runsc binary.
type Place struct {
	// Name is native, stock or patched; Runsc the binary (natively when
	// empty); Platform the runsc platform.
	Name, Runsc, Platform string
	// NoFile is RLIMIT_NOFILE for the test (soft and hard): pipe_test's
	// PipeFdCount needs about 66000.
	NoFile uint64
	// Work is where a native run's directory (TEST_TMPDIR, the XML report)
	// is made and removed; os.TempDir() when empty.
	Work string
}

// Run is what one run of a test binary over some cases produced.
type Run struct {
	// Results are the cases its XML report says ran; nil without one.
	Results map[string]suitereport.Status
	// Hung says it was killed at its deadline; Exit is its exit status
	// otherwise.
	Hung bool
	Exit int
	// Problem says why there is no report (a crash, a hang, bad XML).
	Problem  string
	Duration time.Duration
}

// Run runs bin over cases (one --gtest_filter) with the deadline
// timeout, and reads gtest's XML report. An error means the run could not
// be made; a test that hung or crashed is in the Run.
func (p Place) Run(ctx context.Context, bin string, cases []string, timeout time.Duration) (*Run, error) {
	filter := "--gtest_filter=" + Filter(cases)
	var res *sandbox.Result
	var xmlReport []byte
	var err error
	if p.Runsc == "" {
		res, xmlReport, err = p.runNative(ctx, bin, filter, timeout)
	} else if res, err = p.runSandboxed(ctx, bin, filter, timeout); err == nil {
		xmlReport = res.Stdout
	}
	if err != nil {
		return nil, err
	}
	if res.Canceled {
		return nil, fmt.Errorf("%s: %w", p.Name, context.Canceled)
	}
	r := &Run{Hung: res.TimedOut, Exit: res.ExitCode, Duration: res.Duration}
	switch {
	case len(xmlReport) > 0:
		if r.Results, err = ParseResults(xmlReport); err != nil {
			r.Problem = err.Error()
		}
	case r.Hung:
		r.Problem = "killed at its deadline of " + timeout.String()
	default:
		r.Problem = fmt.Sprintf("exited %d without an XML report; stderr: %s", r.Exit, lastLine(res.Stderr))
	}
	return r, nil
}

// runNative runs bin with filter on the host, in a directory of its own
// under p.Work (removed afterwards) holding TEST_TMPDIR and the XML
// report, which it returns (nil if the test wrote none).
func (p Place) runNative(ctx context.Context, bin, filter string, timeout time.Duration) (*sandbox.Result, []byte, error) {
	dir, err := os.MkdirTemp(p.Work, "suite-run-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	tmp, report := filepath.Join(dir, "tmp"), filepath.Join(dir, "report.xml")
	if err := os.Mkdir(tmp, 0o777); err != nil {
		return nil, nil, err
	}
	argv := []string{bin, filter, "--gtest_output=xml:" + report}
	res, err := runNative(ctx, argv, []string{hostPath, "HOME=/root", "TEST_TMPDIR=" + tmp}, dir, p.NoFile, timeout)
	if err != nil {
		return nil, nil, err
	}
	b, err := os.ReadFile(report)
	if errors.Is(err, os.ErrNotExist) {
		return res, nil, nil
	}
	return res, b, err
}

// sandboxScript runs the test with its output to a file and its XML
// report in the sandbox's own /tmp, then prints the report on stdout and
// the output's tail on stderr: runsc of recent snapshots mounts a host
// directory bound into a read-only host root read-only, so the report
// cannot be written to the host.
const sandboxScript = `mkdir -p /tmp/suite-tmp
"$@" --gtest_output=xml:/tmp/suite-report.xml >/tmp/suite-output 2>&1
rc=$?
cat /tmp/suite-report.xml 2>/dev/null
tail -c 4000 /tmp/suite-output >&2
exit $rc`

// runSandboxed runs bin with filter in a runsc sandbox as gVisor's runner
// does: the host's root read-only, every capability, --network=none,
// TEST_ON_GVISOR and the runner's other variables set, TEST_TMPDIR in the
// sandbox's /tmp. The XML report comes back on stdout.
func (p Place) runSandboxed(ctx context.Context, bin, filter string, timeout time.Duration) (*sandbox.Result, error) {
	sb, err := sandbox.NewStateBase(os.TempDir())
	if err != nil {
		return nil, err
	}
	defer sb.Close()
	rt, err := sb.Runtime(p.Name, p.Runsc)
	if err != nil {
		return nil, err
	}
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	env := []string{hostPath, "HOME=/root", "TEST_TMPDIR=/tmp/suite-tmp", "TEST_ON_GVISOR=" + p.Platform, "GVISOR_NETWORK=none", "GVISOR_RUNTIME=runsc",
		"GVISOR_PLATFORM_SUPPORT=" + platformSupport[p.Platform], "IOURING_ENABLED=FALSE",
		"GVISOR_FUSE_TEST=FALSE", "GVISOR_SAVE_TEST=FALSE", "GVISOR_HOST_KERNEL_VERSION=" + unix.ByteSliceToString(uts.Release[:])}
	spec := oci.Spec(oci.Options{
		HostRoot: true, Command: []string{"/bin/sh", "-c", sandboxScript, "sh", bin, filter}, Cwd: "/tmp", Env: env, ExtraCaps: allCaps,
		Binds: []oci.Bind{{Source: filepath.Dir(bin), Destination: filepath.Dir(bin)}},
	})
	spec.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: p.NoFile, Soft: p.NoFile}}
	bundle := filepath.Join(sb.Dir, "bundle")
	if err := os.MkdirAll(bundle, 0o755); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o644); err != nil {
		return nil, err
	}
	return sandbox.Run(ctx, sandbox.RunOptions{
		Runsc: p.Runsc, StateRoot: rt.StateRoot, Bundle: bundle, LogDir: filepath.Join(sb.Dir, "logs"),
		Variant: sandbox.Variant{Platform: p.Platform, Network: "none", DirectFS: "default"}, Timeout: timeout,
	})
}

// lastLine is the last non-empty line of b, at most 200 bytes of it.
func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	l := lines[len(lines)-1]
	if len(l) > 200 {
		l = "..." + l[len(l)-200:]
	}
	return fmt.Sprintf("%q", l)
}
