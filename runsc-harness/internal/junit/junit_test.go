package junit

import (
	"bytes"
	"encoding/xml"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWriteCountsAndRoundTrips(t *testing.T) {
	in := &Suites{Name: "r", Suites: []Suite{
		{Name: "a", Time: "1.500", Properties: Props(Property{Name: "kind", Value: "stock"}), Cases: []Case{
			{Classname: "g", Name: "ok"},
			{Classname: "g", Name: "bad", Failure: &Message{Message: "native ok, runsc EINTR", Type: "divergence", Text: "result"}},
			{Classname: "g", Name: "known", Skipped: &Message{Message: "expected"}},
		}},
		{Name: "b", Cases: []Case{{Classname: "g", Name: "run", Error: &Message{Message: "timed out", Type: "run-failed"}}}},
	}}
	var buf bytes.Buffer
	if err := Write(&buf, in); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte(xml.Header)) {
		t.Errorf("no XML header: %q", buf.String()[:40])
	}
	var got Suites
	if err := xml.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("reading back: %v\n%s", err, buf.String())
	}
	want := Suites{XMLName: xml.Name{Local: "testsuites"}, Name: "r", Tests: 4, Failures: 1, Errors: 1, Skipped: 1, Suites: []Suite{
		{Name: "a", Tests: 3, Failures: 1, Skipped: 1, Time: "1.500", Properties: in.Suites[0].Properties, Cases: in.Suites[0].Cases},
		{Name: "b", Tests: 1, Errors: 1, Cases: in.Suites[1].Cases},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip mismatch (-want +got):\n%s", diff)
	}
	for _, absent := range []string{`time=""`, `type=""`, "<properties></properties>", "<system-out>"} {
		if bytes.Contains(buf.Bytes(), []byte(absent)) {
			t.Errorf("output has empty %s:\n%s", absent, buf.String())
		}
	}
}
