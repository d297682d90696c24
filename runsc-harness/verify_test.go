package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/restartsys/restartsys/runsc-harness/internal/report"
	"github.com/restartsys/restartsys/runsc-harness/internal/sandbox"
)

// TestVerifyCatchesTheBug is the project's claim end to end: on gVisor
// 2026-05-18 the bootstrap storm makes stock runsc return EINTR in every
// case, while patched runsc and native Linux return none over at least
// 10,000 interrupted calls in the sync-socket case.
func TestVerifyCatchesTheBug(t *testing.T) {
	if testing.Short() {
		t.Skip("builds runsc and runs the storm for minutes")
	}
	if err := sandbox.CheckRoot(); err != nil {
		t.Skip(err)
	}
	out := t.TempDir()
	stdout, stderr, code := runCLI(t, nil, "verify", "--gvisor", "2026-05-18", "--duration", "30s", "--out", out)
	if code != 0 {
		t.Fatalf("verify: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "verdict: stock runsc leaks EINTR in 3 case(s); patched runsc matches native Linux.") {
		t.Errorf("no verdict in output:\n%s", stdout)
	}
	f, err := os.Open(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := report.ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	kind := map[string]report.Kind{}
	for _, v := range d.Variants {
		kind[v.Name] = v.Kind
	}
	for _, c := range d.Cells {
		if c.Native == nil {
			t.Fatalf("%s: no native side", c.Shape)
		}
		if n := c.Native.Counters["eintr"]; n != 0 {
			t.Errorf("%s: native Linux returned EINTR %d times", c.Shape, n)
		}
		for _, o := range c.Outcomes {
			if o.Runsc == nil {
				t.Errorf("%s under %s: no result (%s)", c.Shape, o.Variant, o.Error)
				continue
			}
			eintr, interrupted := o.Runsc.Counters["eintr"], o.Runsc.Counters["interrupted"]
			t.Logf("%-36s %-22s eintr=%d interrupted=%d", c.Shape, o.Variant, eintr, interrupted)
			switch kind[o.Variant] {
			case report.Stock:
				if eintr == 0 {
					t.Errorf("%s: stock runsc returned no EINTR: the storm did not catch the bug", c.Shape)
				}
			case report.Patched:
				if eintr != 0 || o.Diverges {
					t.Errorf("%s: patched runsc: eintr=%d, diverges=%v %v", c.Shape, eintr, o.Diverges, o.Reasons)
				}
				if c.Shape == "recvfrom/unix-seqpacket/peek-trunc" && interrupted < 10000 {
					t.Errorf("%s: patched runsc saw only %d interrupted calls, want at least 10,000", c.Shape, interrupted)
				}
			}
		}
	}
}

// TestVerifyOldestSnapshot boots the oldest affected snapshot, 2024-04-23,
// whose runsc panics on its first blocking call when built with Go 1.25 or
// later as published: with the compat set, the stock and the patched runsc
// both boot (their builds' boot checks), the storm catches the bug on stock
// and patched matches native Linux.
func TestVerifyOldestSnapshot(t *testing.T) {
	if err := sandbox.CheckRoot(); err != nil {
		t.Fatal("verify runs runsc, which needs root: run the tests as root")
	}
	out := t.TempDir()
	stdout, stderr, code := runCLI(t, nil, "verify", "--gvisor", "2024-04-23", "--duration", "3s", "--out", out)
	if code != 0 {
		t.Fatalf("verify: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"stock   runsc v0.0.0-20240423190808-9d7a357edefe+restartsys-compat-",
		"patched runsc v0.0.0-20240423190808-9d7a357edefe+restartsys-compat+core-",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("the stamps do not name the compat set: no %q in\n%s", want, stderr)
		}
	}
	if !strings.Contains(stdout, "verdict: stock runsc leaks EINTR in 3 case(s); patched runsc matches native Linux.") {
		t.Errorf("no verdict in output:\n%s", stdout)
	}
}
