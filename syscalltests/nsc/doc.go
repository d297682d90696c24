// Package nsc holds the C side of the PID-1 signal and per-thread mount
// namespace guest, nsc.c, and its native oracle test. The Go side, with the
// same shapes, is syscalltests/nsgo; the oracle both share is
// syscalltests/internal/nsoracle.
//
// Build it with
//
//	cc -static -O2 -pthread -o out/nsc syscalltests/nsc/*.c
//
// The harness runs it natively as PID 1 of new PID and mount namespaces and,
// under runsc, as the container's first process with CAP_SYS_ADMIN (which it
// has natively as root). See README.md.
package nsc
