// Package bench holds the Sentry-overhead micro-benchmark guest program,
// bench.c, that `runsc-harness bench` runs natively and under stock and
// patched runsc. Build it with
//
//	cc -static -O2 -pthread -o out/bench syscalltests/bench/*.c
//
// It times three shapes and prints one JSON object
// {"program":"bench","results":[{"shape","unit","ops","ns_per_op","reps"}]}
// on standard output:
//
//   - recvfrom/unix-seqpacket/pingpong: a 1-byte round trip over an AF_UNIX
//     SOCK_SEQPACKET pair (send, then recvfrom blocks until an echo thread
//     answers), ns per round trip;
//   - read-write/pipe: write(2) of 1 byte to a pipe and read(2) of it back
//     on one thread, ns per pair;
//   - recvfrom/unix-seqpacket/wake: an uncontended blocking recvfrom woken
//     by its peer, ns from the peer's send to the return (the peer sends
//     once /proc/self/task/TID/stat says the reader is asleep).
//
// Each shape runs a warm-up and -reps repetitions (of -ms milliseconds, or
// -wakes wake-ups); ns_per_op is their median. It is not a conformance
// guest: nothing in its output is compared with Linux.
package bench
