// Package matrix holds the signal(7) conformance matrix guest program,
// matrix.c, and its native oracle test.
//
// The guest is written in C because it needs a signal handler installed
// without SA_RESTART, which the Go runtime cannot provide. Build it with
//
//	cc -static -O2 -pthread -o out/matrix syscalltests/matrix/*.c
//
// It runs every blocking call shape (read on a pipe, recvfrom on a
// seqpacket socket, futex wait, open of a FIFO, ...) under five
// dispositions (matrix.c's disp_names): four of SIGUSR1, "restart"
// (handler with SA_RESTART), "norestart" (handler without SA_RESTART),
// "ignore" (SIG_IGN) and "block" (masked in the blocking thread), and
// "stop" (no SIGUSR1: a helper child stops the whole process with SIGSTOP
// and continues it with SIGCONT; no handler runs). For each cell it waits
// until the blocking thread is asleep, sends SIGUSR1 to it with tgkill (or
// stops and continues the process), then completes the operation so that
// a restarted call succeeds, and records the call's result and whether the
// handler ran. It prints one guestio.Report with Program "matrix" on
// standard output and exits 4 if a cell leaked a file descriptor, a child
// or a file.
//
// Flags: -list prints the shape names; -filter SUBSTRING keeps the shapes
// whose name contains SUBSTRING; -disp restart,norestart,... keeps those
// dispositions; -settle MS and -watchdog SECONDS tune timing.
package matrix
