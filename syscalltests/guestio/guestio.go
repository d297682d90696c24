// Package guestio is the contract between guest programs in syscalltests/
// and runsc-harness: a guest writes one Report as JSON to standard output,
// and the harness compares the Report of a runsc run with the Report of the
// same program run natively.
//
// A Case is one cell: a call shape under one signal disposition. Its
// Observed fields are what must match Linux; its Counters are figures that
// the harness judges with a rule (for example, "EINTR must be 0"), never by
// equality, because timing makes them differ between runs.
package guestio

import (
	"encoding/json"
	"io"
)

// Report is everything one guest program run observed.
type Report struct {
	// Program names the guest ("storm", "matrix", ...).
	Program string `json:"program"`
	// Cases are the cells, in a stable order.
	Cases []Case `json:"cases"`
}

// Case is the result of one call shape under one disposition.
type Case struct {
	// Shape names the blocking call, e.g. "recvfrom/unix-seqpacket/peek-trunc".
	Shape string `json:"shape"`
	// Disposition is how the interrupting signal was handled: one of
	// "restart" (handler with SA_RESTART), "norestart" (handler without),
	// "ignore" (SIG_IGN), "block" (masked), or a program-specific name.
	Disposition string `json:"disposition"`
	// Observed is what the call did, as seen by the program. It is compared
	// field by field with the native run.
	Observed Observed `json:"observed"`
	// Counters are figures judged by rules, not by equality: "interrupted",
	// "eintr", "wrong_bytes", "rounds", "elapsed_ms", ...
	Counters map[string]int64 `json:"counters,omitempty"`
	// Note is free text for a human (the last error seen, say).
	Note string `json:"note,omitempty"`
}

// Observed is the Linux-visible outcome of one cell.
type Observed struct {
	// Result is "ok" for success, an errno name ("EINTR", "EAGAIN", ...)
	// for failure, or "hang" when the call did not return before the
	// case's own deadline.
	Result string `json:"result"`
	// HandlerRan reports whether the signal handler ran while the call was
	// blocked (always false for the "ignore" and "block" dispositions).
	HandlerRan bool `json:"handler_ran"`
}

// Write encodes r as indented JSON on w.
func Write(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Read decodes a Report from r.
func Read(r io.Reader) (*Report, error) {
	var rep Report
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		return nil, err
	}
	return &rep, nil
}
