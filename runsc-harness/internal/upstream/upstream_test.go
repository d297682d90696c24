package upstream

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fixesLine is the Fixes line an upstream patch's message ends with: blank
// for the sender to fill in, or naming the gVisor issue it fixes.
var fixesLine = regexp.MustCompile(`\nFixes #[0-9]*\n`)

func patchesDir(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "patches", "upstream")
}

// TestManifestMatchesPatches checks that each upstream patch adds exactly
// the cases its manifest entry lists, each whole and named once.
func TestManifestMatchesPatches(t *testing.T) {
	m, err := LoadManifest(patchesDir(t))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range m.Patches {
		raw, err := os.ReadFile(m.Path(p))
		if err != nil {
			t.Fatal(err)
		}
		cases, err := Extract(raw)
		if err != nil {
			t.Fatalf("%s: %v", p.File, err)
		}
		if err := checkCases(p, cases); err != nil {
			t.Error(err)
		}
		for _, c := range cases {
			if seen[c.Name] {
				t.Errorf("%s added twice", c.Name)
			}
			seen[c.Name] = true
		}
		if !fixesLine.Match(raw) {
			t.Errorf("%s: no Fixes # line (blank, or naming the gVisor issue)", p.File)
		}
		if strings.Contains(string(raw), "\nFrom: ") {
			t.Errorf("%s: carries an author; the sender's git config gives it", p.File)
		}
	}
}

// TestExtract checks the block boundaries on small patches.
func TestExtract(t *testing.T) {
	for _, tc := range []struct {
		name    string
		patch   string
		want    []string
		wantErr bool
	}{
		{
			name: "cases with comments, other files ignored",
			patch: "diff --git a/pkg/x.go b/pkg/x.go\n+++ b/pkg/x.go\n+TEST(No, Go) {\n+}\n" +
				"diff --git a/test/syscalls/linux/fifo.cc b/test/syscalls/linux/fifo.cc\n+++ b/test/syscalls/linux/fifo.cc\n" +
				" context\n+// Says what.\n+TEST(FifoTest, A) {\n+  int x;\n+}\n+\n+TEST_F(Fix, B) {\n+}\n",
			want: []string{"FifoTest.A", "Fix.B"},
		},
		{
			name:    "block cut by context",
			patch:   "diff --git a/test/syscalls/linux/a.cc b/test/syscalls/linux/a.cc\n+++ b/test/syscalls/linux/a.cc\n+TEST(A, B) {\n context\n+}\n",
			wantErr: true,
		},
		{
			name:    "block never closed",
			patch:   "diff --git a/test/syscalls/linux/a.cc b/test/syscalls/linux/a.cc\n+++ b/test/syscalls/linux/a.cc\n+TEST(A, B) {\n",
			wantErr: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cases, err := Extract([]byte(tc.patch))
			if (err != nil) != tc.wantErr {
				t.Fatalf("Extract: %v, want error %v", err, tc.wantErr)
			}
			var got []string
			for _, c := range cases {
				got = append(got, c.Name)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("cases %v, want %v", got, tc.want)
			}
		})
	}
}

// TestJudge checks the verdict rules of one row.
func TestJudge(t *testing.T) {
	for _, tc := range []struct {
		name         string
		row          Row
		wantProblems int
	}{
		{"bug seen", Row{Bug: "0002", StockAffected: true, Results: map[string]Outcome{"native": {Status: Pass}, "stock": {Status: Fail}, "patched": {Status: Pass}}}, 0},
		{"stock hang counts as seen", Row{Bug: "0004", StockAffected: true, Results: map[string]Outcome{"native": {Status: Pass}, "stock": {Status: Hang}, "patched": {Status: Pass}}}, 0},
		{"bug not seen", Row{Bug: "0002", StockAffected: true, Results: map[string]Outcome{"native": {Status: Pass}, "stock": {Status: Pass}, "patched": {Status: Pass}}}, 1},
		{"version without the bug", Row{Bug: "0002", Results: map[string]Outcome{"native": {Status: Pass}, "stock": {Status: Pass}, "patched": {Status: Pass}}}, 0},
		{"patched hang", Row{Results: map[string]Outcome{"native": {Status: Pass}, "stock": {Status: Pass}, "patched": {Status: Hang}}}, 1},
		{"native skip", Row{Results: map[string]Outcome{"native": {Status: Skip}, "patched": {Status: Pass}}}, 1},
		{"patched lacks, fails", Row{PatchedLacks: "x", Results: map[string]Outcome{"native": {Status: Pass}, "patched": {Status: Fail}}}, 0},
		{"patched lacks, stale", Row{PatchedLacks: "x", Results: map[string]Outcome{"native": {Status: Pass}, "patched": {Status: Pass}}}, 1},
		{"no fix for this version", Row{Bug: "0111", NoFixHere: true, Results: map[string]Outcome{"native": {Status: Pass}, "stock": {Status: Fail}, "patched": {Status: Fail}}}, 0},
		{"no fix for this version, native fails", Row{Bug: "0111", NoFixHere: true, Results: map[string]Outcome{"native": {Status: Fail}, "stock": {Status: Fail}, "patched": {Status: Fail}}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := judge(&tc.row); len(got) != tc.wantProblems {
				t.Errorf("judge = %q, want %d problem(s)", got, tc.wantProblems)
			}
		})
	}
}

// TestCheckToolchainNamesTheFix checks that missing headers are reported
// with the command that installs them.
func TestCheckToolchainNamesTheFix(t *testing.T) {
	err := CheckToolchain(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "runsc-harness/host/packages.sh gtest") {
		t.Errorf("CheckToolchain(empty dir) = %v, want the install hint", err)
	}
}

// TestHangIsKilled checks that a native case past its deadline is reported
// as a hang and that its whole process group is gone.
func TestHangIsKilled(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "hang")
	// A "test binary" that leaves a child behind and never exits.
	if err := os.WriteFile(bin, []byte("#!"+sh+"\nsleep 600 &\necho $! > "+filepath.Join(dir, "child")+"\nwait\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	o, err := Place{Name: "native"}.RunCase(t.Context(), bin, TestCase{Name: "A.B"}, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != Hang {
		t.Errorf("status %s, want hang", o.Status)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "child"))
	if err != nil {
		t.Fatal(err)
	}
	// Killed, it may linger as a zombie until init reaps it.
	pid := strings.TrimSpace(string(raw))
	for i := 0; ; i++ {
		st, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil || strings.Contains(string(st), ") Z ") {
			break
		}
		if i == 50 {
			t.Fatalf("the hung binary's child %s is still running: %s", pid, st)
		}
		time.Sleep(40 * time.Millisecond)
	}
}

// TestHostFIFOTree checks that a case of a file gVisor runs with
// add_host_fifo gets TEST_FIFO_TREE with a FIFO "idle" in it, natively, and
// that other cases do not.
func TestHostFIFOTree(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "fifocheck")
	// A "test binary" that passes A.B only if the tree has its FIFO.
	script := "#!" + sh + "\n[ -n \"$TEST_FIFO_TREE\" ] && [ -p \"$TEST_FIFO_TREE/idle\" ] && echo '[       OK ] A.B' && exit 0\nexit 1\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file string
		want Status
	}{
		{"test/syscalls/linux/pipe_external.cc", Pass},
		{"test/syscalls/linux/mknod.cc", Fail},
	} {
		t.Run(tc.file, func(t *testing.T) {
			o, err := Place{Name: "native"}.RunCase(t.Context(), bin, TestCase{Name: "A.B", File: tc.file}, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if o.Status != tc.want {
				t.Errorf("status %s, want %s (output %q)", o.Status, tc.want, o.Output)
			}
		})
	}
}
