package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/restartsys/restartsys/syscalltests/guestio"
)

// TestMain lets the test binary play the sync-socket writer child, since
// the sync-socket variant re-executes /proc/self/exe.
func TestMain(m *testing.M) {
	if os.Getenv(envChild) == "sync-writer" {
		os.Exit(childMain())
	}
	os.Exit(m.Run())
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantErr  bool
		variants []string
		check    func(*config) error
	}{
		{name: "defaults", args: nil, variants: []string{variantSyncSocket, variantExecFIFO}, check: func(c *config) error {
			if c.timeout != 48*time.Second || c.peek != peekNull || c.strict || c.rounds <= 0 {
				return fmt.Errorf("unexpected defaults %+v", c)
			}
			return nil
		}},
		{name: "one variant", args: []string{"-variant", "exec-fifo"}, variants: []string{variantExecFIFO}},
		{name: "flags", args: []string{"-variant=sync-socket", "-rounds=5", "-duration=2s", "-interval=1ms", "-delay=3ms", "-timeout=9s", "-strict", "-peek=xsys", "-stop-on-eintr"},
			variants: []string{variantSyncSocket}, check: func(c *config) error {
				want := config{variants: c.variants, rounds: 5, duration: 2 * time.Second, interval: time.Millisecond, delay: 3 * time.Millisecond,
					timeout: 9 * time.Second, strict: true, stopOnEINTR: true, trials: 1, dir: c.dir, peek: peekXSys}
				if fmt.Sprint(*c) != fmt.Sprint(want) {
					return fmt.Errorf("got %+v, want %+v", *c, want)
				}
				return nil
			}},
		{name: "unknown variant", args: []string{"-variant", "pipe"}, wantErr: true},
		{name: "negative rounds", args: []string{"-rounds", "-1"}, wantErr: true},
		{name: "zero duration", args: []string{"-duration", "0"}, wantErr: true},
		{name: "timeout follows duration", args: []string{"-duration", "20s"}, variants: []string{variantSyncSocket, variantExecFIFO}, check: func(c *config) error {
			if c.timeout != 90*time.Second {
				return fmt.Errorf("-duration 20s: timeout %v, want 3 × 20s + 30s", c.timeout)
			}
			return nil
		}},
		{name: "timeout follows trials", args: []string{"-variant", "sync-socket", "-trials", "100", "-duration", "1s"}, variants: []string{variantSyncSocket}, check: func(c *config) error {
			if c.trials != 100 || c.timeout != 330*time.Second {
				return fmt.Errorf("-trials 100 -duration 1s: trials %d, timeout %v, want 100 and 3 × 100 × 1s + 30s", c.trials, c.timeout)
			}
			return nil
		}},
		{name: "zero trials", args: []string{"-trials", "0"}, wantErr: true},
		{name: "negative timeout", args: []string{"-timeout", "-1s"}, wantErr: true},
		{name: "negative delay", args: []string{"-delay", "-1ms"}, wantErr: true},
		{name: "bad peek", args: []string{"-peek", "msg"}, wantErr: true},
		{name: "stray argument", args: []string{"extra"}, wantErr: true},
		{name: "unknown flag", args: []string{"-nope"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig(tt.args, io.Discard)
			if tt.wantErr {
				if !errors.Is(err, errUsage) {
					t.Fatalf("parseConfig(%q) error = %v, want a usage error", tt.args, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseConfig(%q): %v", tt.args, err)
			}
			if fmt.Sprint(c.variants) != fmt.Sprint(tt.variants) {
				t.Errorf("variants = %v, want %v", c.variants, tt.variants)
			}
			if tt.check != nil {
				if err := tt.check(c); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func TestPacket(t *testing.T) {
	lengths := map[int]bool{}
	for round := int64(0); round < 200; round++ {
		p := packet(round)
		if len(p) < 8 || len(p) > maxPacket {
			t.Fatalf("packet(%d) has length %d, want 8..%d", round, len(p), maxPacket)
		}
		if got := int64(binary.LittleEndian.Uint64(p)); got != round {
			t.Fatalf("packet(%d) header says round %d", round, got)
		}
		if !bytes.Equal(p, packet(round)) {
			t.Fatalf("packet(%d) is not deterministic", round)
		}
		if round > 0 && wrongBytes(p, packet(round-1)) == 0 {
			t.Fatalf("packet(%d) equals packet(%d)", round, round-1)
		}
		lengths[len(p)] = true
	}
	if len(lengths) < 100 {
		t.Errorf("only %d distinct packet lengths over 200 rounds", len(lengths))
	}
}

func TestWrongBytes(t *testing.T) {
	tests := []struct {
		got, want string
		bad       int64
	}{
		{"abc", "abc", 0},
		{"abd", "abc", 1},
		{"xyz", "abc", 3},
		{"ab", "abc", 1},
		{"abcde", "abc", 2},
		{"", "abc", 3},
		{"", "", 0},
	}
	for _, tt := range tests {
		if got := wrongBytes([]byte(tt.got), []byte(tt.want)); got != tt.bad {
			t.Errorf("wrongBytes(%q, %q) = %d, want %d", tt.got, tt.want, got, tt.bad)
		}
	}
}

func TestHandshakeByte(t *testing.T) {
	for round := int64(0); round < 1000; round++ {
		if handshakeByte(round) == 0 {
			t.Fatalf("handshakeByte(%d) = 0", round)
		}
		if handshakeByte(round) == handshakeByte(round+1) {
			t.Fatalf("handshakeByte(%d) == handshakeByte(%d)", round, round+1)
		}
	}
}

func TestParseState(t *testing.T) {
	tests := []struct {
		stat    string
		want    byte
		wantErr bool
	}{
		{"1234 (storm) S 1 1234 ...", 'S', false},
		{"1234 (a b) R 1 ...", 'R', false},
		{"1234 (weird) name)) D 1 ...", 'D', false},
		{"1234 storm S 1", 0, true},
		{"1234 (storm)", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := parseState([]byte(tt.stat))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseState(%q) = %q, %v; want %q, error %v", tt.stat, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestThreadStat checks that the kept-open stat file is re-read on each
// look: it sees a thread running, then the same thread asleep in read(2).
func TestThreadStat(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[1])
	tidc := make(chan int)
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		tidc <- unix.Gettid()
		var b [1]byte
		for {
			if _, err := unix.Read(p[0], b[:]); !errors.Is(err, unix.EINTR) {
				return
			}
		}
	}()
	tid := <-tidc
	ts, err := openThreadStat(tid)
	if err != nil {
		t.Fatal(err)
	}
	defer ts.close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := ts.state()
		if err != nil {
			t.Fatal(err)
		}
		if st == 'S' {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("thread %d blocked in read(2) never seen asleep; last state %q", tid, st)
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := unix.Write(p[1], []byte{1}); err != nil { //eintrvet:ignore unretried a 1-byte write to an empty pipe does not block, so no signal interrupts it
		t.Fatalf("waking the reader: %v", err)
	}
	<-done
	unix.Close(p[0])
	// The reading thread itself is running when it looks at itself.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	self, err := openThreadStat(unix.Gettid())
	if err != nil {
		t.Fatal(err)
	}
	defer self.close()
	if st, err := self.state(); err != nil || st != 'R' {
		t.Errorf("own state = %q, %v; want 'R'", st, err)
	}
}

func TestResult(t *testing.T) {
	tests := []struct {
		name  string
		hang  bool
		eintr int64
		wrong int64
		err   error
		want  string
	}{
		{"ok", false, 0, 0, nil, "ok"},
		{"eintr", false, 3, 0, nil, "EINTR"},
		{"eintr beats wrong bytes", false, 3, 2, nil, "EINTR"},
		{"wrong bytes", false, 0, 2, nil, "wrong_bytes"},
		{"hang beats all", true, 3, 2, nil, "hang"},
		{"errno", false, 0, 0, fmt.Errorf("read: %w", unix.ECONNRESET), "ECONNRESET"},
		{"other error", false, 0, 0, errPeerGone, "error"},
	}
	for _, tt := range tests {
		if got := result(tt.hang, tt.eintr, tt.wrong, tt.err); got != tt.want {
			t.Errorf("%s: result = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestBadCases(t *testing.T) {
	rep := &guestio.Report{Cases: []guestio.Case{
		{Shape: "a", Observed: guestio.Observed{Result: "ok"}},
		{Shape: "b", Observed: guestio.Observed{Result: "EINTR"}},
		{Shape: "c", Observed: guestio.Observed{Result: "hang"}},
	}}
	if got, want := fmt.Sprint(badCases(rep)), "[b: EINTR c: hang]"; got != want {
		t.Errorf("badCases = %s, want %s", got, want)
	}
}

// TestStormNative runs every case briefly on the host kernel, where Go's
// SA_RESTART SIGURG handler makes Linux restart every interrupted call:
// the storm must interrupt calls, and none may return EINTR.
func TestStormNative(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the storm for a few seconds")
	}
	var stdout, stderr bytes.Buffer
	args := []string{"-duration=700ms", "-timeout=30s", "-dir=" + t.TempDir(), "-strict"}
	status := mainStatus(args, &stdout, &stderr)
	t.Logf("stderr:\n%s", stderr.String())
	if status != 0 {
		t.Fatalf("storm %s exited %d, want 0", strings.Join(args, " "), status)
	}
	rep, err := guestio.Read(&stdout)
	if err != nil {
		t.Fatalf("decoding the report: %v", err)
	}
	if rep.Program != "storm" || len(rep.Cases) != 3 {
		t.Fatalf("report has program %q and %d cases, want storm and 3", rep.Program, len(rep.Cases))
	}
	for _, c := range rep.Cases {
		if c.Observed.Result != "ok" || !c.Observed.HandlerRan || c.Disposition != "restart" {
			t.Errorf("%s: observed %+v disposition %q, want ok, handler ran, restart (note: %s)", c.Shape, c.Observed, c.Disposition, c.Note)
		}
		if c.Counters["eintr"] != 0 || c.Counters["wrong_bytes"] != 0 {
			t.Errorf("%s: eintr=%d wrong_bytes=%d, want 0", c.Shape, c.Counters["eintr"], c.Counters["wrong_bytes"])
		}
		if c.Counters["interrupted"] == 0 || c.Counters["rounds"] == 0 {
			t.Errorf("%s: interrupted=%d rounds=%d, want both > 0", c.Shape, c.Counters["interrupted"], c.Counters["rounds"])
		}
	}
}

// TestTimeoutReportsHang checks that a run whose -timeout passes reports
// "hang" for what it did not finish instead of hanging, and that -strict
// then fails.
func TestTimeoutReportsHang(t *testing.T) {
	var stdout bytes.Buffer
	args := []string{"-duration=10s", "-timeout=300ms", "-dir=" + t.TempDir(), "-strict"}
	start := time.Now()
	status := mainStatus(args, &stdout, io.Discard)
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("a run with -timeout=300ms took %s", took)
	}
	if status != 1 {
		t.Errorf("exit status %d, want 1 (-strict with hangs)", status)
	}
	rep, err := guestio.Read(&stdout)
	if err != nil {
		t.Fatalf("decoding the report: %v", err)
	}
	if len(rep.Cases) != 3 {
		t.Fatalf("%d cases, want 3", len(rep.Cases))
	}
	for _, c := range rep.Cases {
		if c.Observed.Result != "hang" {
			t.Errorf("%s: result %q, want hang", c.Shape, c.Observed.Result)
		}
	}
}

func TestSetupFailure(t *testing.T) {
	var stderr bytes.Buffer
	status := mainStatus([]string{"-variant=exec-fifo", "-dir=/nonexistent/storm"}, io.Discard, &stderr)
	if status != 2 || !strings.Contains(stderr.String(), "setup failed") {
		t.Errorf("status %d, stderr %q; want 2 and a setup message", status, stderr.String())
	}
}
