//go:build ignore

// The constraint above keeps the go tool from treating this C file as part
// of the Go package in this directory (a Go package without cgo may not
// hold .c files); cc ignores it.

// bench: the Sentry-overhead micro-benchmark guest of runsc-harness bench.
//
// It times three syscall shapes on the paths the restartsys patches touch
// (socket receive and pipe I/O, whose errors pass through the Sentry's
// interrupt conversion) and prints one JSON object on standard output:
//
//   {"program":"bench","results":[{"shape":S,"unit":"ns/op","reps":[...],
//     "ns_per_op":MEDIAN,"ops":N},...]}
//
// Shapes:
//   recvfrom/unix-seqpacket/pingpong  round trip of a 1-byte packet over an
//       AF_UNIX SOCK_SEQPACKET pair: the timed thread sends and blocks in
//       recvfrom until an echo thread (recvfrom, send) answers.  ns per
//       round trip.
//   read-write/pipe                   write(2) of 1 byte to a pipe and
//       read(2) of it back, on one thread (no blocking).  ns per pair.
//   recvfrom/unix-seqpacket/wake      an uncontended blocking recvfrom woken
//       by its peer: the reader blocks alone; once it is asleep
//       (/proc/self/task/TID/stat state 'S'), the peer takes a timestamp
//       and sends 1 byte; the reader takes a timestamp when recvfrom
//       returns.  ns from send to return (the median of the wake-ups of a
//       repetition).
//
// Each shape runs one warm-up and then -reps repetitions of about -ms
// milliseconds each (the wake shape: -wakes wake-ups each); ns_per_op is
// the median repetition.
//
// Build: cc -static -O2 -pthread -o out/bench syscalltests/bench/*.c
// Flags: -reps N (default 5), -ms N (default 200), -wakes N (default 300),
//        -shape SUBSTRING (only shapes whose name contains it).
// Exit status: 0 when it ran, 2 on a usage or setup error.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_REPS 64

static int reps = 5;
static int rep_ms = 200;
static int wakes = 300;

static void die(const char *what) {
  fprintf(stderr, "bench: %s: %s\n", what, strerror(errno));
  exit(2);
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  double tmp[4096];
  if (n > (int)(sizeof tmp / sizeof tmp[0])) n = sizeof tmp / sizeof tmp[0];
  memcpy(tmp, v, n * sizeof *v);
  qsort(tmp, n, sizeof *tmp, cmp_double);
  return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

// ---- recvfrom ping-pong ----

static void *echo_main(void *arg) {
  int fd = *(int *)arg;
  char b;
  for (;;) {
    ssize_t n = recvfrom(fd, &b, 1, 0, NULL, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("echo recvfrom");
    }
    if (n == 0 || b == 'q') return NULL;
    if (send(fd, &b, 1, 0) != 1) die("echo send");
  }
}

// pingpong_rep runs round trips for about ms milliseconds and returns ns per
// round trip; *ops receives the count.
static double pingpong_rep(int fd, int ms, long *ops) {
  char b = 'p';
  long n = 0;
  int64_t start = now_ns(), end = start + (int64_t)ms * 1000000, t = start;
  while (t < end) {
    for (int i = 0; i < 32; i++) {
      if (send(fd, &b, 1, 0) != 1) die("send");
      ssize_t r;
      do r = recvfrom(fd, &b, 1, 0, NULL, NULL);
      while (r < 0 && errno == EINTR);
      if (r != 1) die("recvfrom");
    }
    n += 32;
    t = now_ns();
  }
  *ops = n;
  return (double)(t - start) / n;
}

static void bench_pingpong(double *out, long *ops) {
  int sv[2];
  pthread_t th;
  if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0) die("socketpair");
  if (pthread_create(&th, NULL, echo_main, &sv[1])) die("pthread_create");
  long n;
  pingpong_rep(sv[0], rep_ms / 4 + 1, &n); // warm-up
  *ops = 0;
  for (int i = 0; i < reps; i++) {
    out[i] = pingpong_rep(sv[0], rep_ms, &n);
    *ops += n;
  }
  char q = 'q';
  if (send(sv[0], &q, 1, 0) != 1) die("send q");
  pthread_join(th, NULL);
  close(sv[0]);
  close(sv[1]);
}

// ---- pipe write + read ----

static double pipe_rep(int p[2], int ms, long *ops) {
  char b = 'x';
  long n = 0;
  int64_t start = now_ns(), end = start + (int64_t)ms * 1000000, t = start;
  while (t < end) {
    for (int i = 0; i < 64; i++) {
      if (write(p[1], &b, 1) != 1) die("write");
      if (read(p[0], &b, 1) != 1) die("read");
    }
    n += 64;
    t = now_ns();
  }
  *ops = n;
  return (double)(t - start) / n;
}

static void bench_pipe(double *out, long *ops) {
  int p[2];
  if (pipe(p) < 0) die("pipe");
  long n;
  pipe_rep(p, rep_ms / 4 + 1, &n);
  *ops = 0;
  for (int i = 0; i < reps; i++) {
    out[i] = pipe_rep(p, rep_ms, &n);
    *ops += n;
  }
  close(p[0]);
  close(p[1]);
}

// ---- blocking recvfrom woken by the peer ----

struct waker {
  int fd;
  int n;
  atomic_int reader_tid;
  atomic_int gate; // odd: the reader is about to block / blocked in recvfrom
  atomic_llong sent_ns;
};

// thread_state returns the state letter of thread tid of this process, or 0.
static char thread_state(int tid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  return p && p[1] == ' ' ? p[2] : 0;
}

static void *waker_main(void *arg) {
  struct waker *w = arg;
  char b = 'w';
  for (int i = 0; i < w->n; i++) {
    // Wait for the reader to announce round i, then to be asleep in it.
    while (atomic_load(&w->gate) != 2 * i + 1) sched_yield();
    int tid = atomic_load(&w->reader_tid);
    for (int spins = 0; thread_state(tid) != 'S' && spins < 100000; spins++) {
      struct timespec ts = {0, 20000};
      nanosleep(&ts, NULL);
    }
    atomic_store(&w->sent_ns, now_ns());
    if (send(w->fd, &b, 1, 0) != 1) die("waker send");
  }
  return NULL;
}

static double wake_rep(int sv[2], int n) {
  static double lat[4096];
  if (n > 4096) n = 4096;
  struct waker w = {.fd = sv[1], .n = n};
  atomic_store(&w.reader_tid, (int)syscall(SYS_gettid));
  atomic_store(&w.gate, 0);
  pthread_t th;
  if (pthread_create(&th, NULL, waker_main, &w)) die("pthread_create");
  char b;
  for (int i = 0; i < n; i++) {
    atomic_store(&w.gate, 2 * i + 1);
    ssize_t r;
    do r = recvfrom(sv[0], &b, 1, 0, NULL, NULL);
    while (r < 0 && errno == EINTR);
    int64_t t = now_ns();
    if (r != 1) die("wake recvfrom");
    lat[i] = (double)(t - atomic_load(&w.sent_ns));
    atomic_store(&w.gate, 2 * i + 2);
  }
  pthread_join(th, NULL);
  return median(lat, n);
}

static void bench_wake(double *out, long *ops) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0) die("socketpair");
  wake_rep(sv, wakes / 4 + 1);
  *ops = 0;
  for (int i = 0; i < reps; i++) {
    out[i] = wake_rep(sv, wakes);
    *ops += wakes;
  }
  close(sv[0]);
  close(sv[1]);
}

struct shape {
  const char *name;
  void (*run)(double *out, long *ops);
};

static const struct shape shapes[] = {
    {"recvfrom/unix-seqpacket/pingpong", bench_pingpong},
    {"read-write/pipe", bench_pipe},
    {"recvfrom/unix-seqpacket/wake", bench_wake},
};

static int atoi_arg(const char *flag, const char *v, int lo, int hi) {
  char *end;
  long x = v ? strtol(v, &end, 10) : 0;
  if (!v || *end || x < lo || x > hi) {
    fprintf(stderr, "bench: %s wants an integer in [%d, %d]\n", flag, lo, hi);
    exit(2);
  }
  return (int)x;
}

int main(int argc, char **argv) {
  const char *filter = "";
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] == '-' && a[1] == '-') a++;
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-reps")) reps = atoi_arg(a, v, 1, MAX_REPS), i++;
    else if (!strcmp(a, "-ms")) rep_ms = atoi_arg(a, v, 1, 60000), i++;
    else if (!strcmp(a, "-wakes")) wakes = atoi_arg(a, v, 1, 4096), i++;
    else if (!strcmp(a, "-shape") && v) filter = v, i++;
    else {
      fprintf(stderr, "usage: bench [-reps N] [-ms N] [-wakes N] [-shape SUBSTRING]\n");
      return 2;
    }
  }
  printf("{\"program\":\"bench\",\"results\":[");
  int first = 1;
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    if (!strstr(shapes[s].name, filter)) continue;
    double v[MAX_REPS];
    long ops = 0;
    shapes[s].run(v, &ops);
    printf("%s\n{\"shape\":\"%s\",\"unit\":\"ns/op\",\"ops\":%ld,\"ns_per_op\":%.1f,\"reps\":[", first ? "" : ",",
           shapes[s].name, ops, median(v, reps));
    for (int i = 0; i < reps; i++) printf("%s%.1f", i ? "," : "", v[i]);
    printf("]}");
    fprintf(stderr, "bench: %s: %.1f ns/op (median of %d)\n", shapes[s].name, median(v, reps), reps);
    first = 0;
    fflush(stdout);
  }
  printf("\n]}\n");
  return 0;
}
