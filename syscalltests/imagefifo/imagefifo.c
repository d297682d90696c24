// imagefifo: a FIFO that is part of the container image, opened by a reader
// and a writer in two processes (gVisor issue 12504: GitLab's runit services
// keep supervise/ok, a FIFO shipped in the image, and fail to start under
// gVisor).
//
// The FIFO's path comes from $IMAGEFIFO_PATH: under runsc the harness makes
// it with mkfifo(3) in the bundle's rootfs before the container starts;
// natively it is a FIFO in a fresh host directory. Each case forks the two
// ends and waits for both with a deadline of its own; an end still blocked
// then is killed and the case's result is "hang". The guest prints one
// guestio report (program "imagefifo") and exits 0.
//
// Cases (disposition "none": no signal is involved):
//   open/image-fifo/reader-first   open(O_RDONLY) blocks, then a writer
//                                  opens O_WRONLY, writes, closes; the
//                                  reader reads the bytes and end of file
//   open/image-fifo/writer-first   the same, the writer's open first
//   open/image-fifo/runsv-sv       runit: runsv holds the FIFO open
//                                  O_RDONLY|O_NONBLOCK; sv checks that runsv
//                                  runs with open(O_WRONLY|O_NONBLOCK),
//                                  which fails with ENXIO without a reader
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char payload[] = "issue-12504";

// caseDeadlineMS is how long a case waits for both ends.
static const int caseDeadlineMS = 5000;

// Exit statuses of an end: 0 is success, exitWrongData means the reader
// got other bytes, and exitErrnoBase + errno names the errno of the call
// that failed.
enum { exitWrongData = 1, exitErrnoBase = 10 };

static const char *fifo;

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fail_errno(void) { return exitErrnoBase + errno; }

// reader opens the FIFO with flags and reads until end of file.
static int reader(int flags) {
  int fd = open(fifo, O_RDONLY | flags);
  if (fd < 0) return fail_errno();
  char buf[64];
  size_t got = 0;
  for (;;) {
    ssize_t n = read(fd, buf + got, sizeof(buf) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno();
    if (n == 0) break;
    got += (size_t)n;
    if (got == sizeof(buf)) break;
  }
  close(fd);
  if (got != sizeof(payload) - 1 || memcmp(buf, payload, got) != 0) return exitWrongData;
  return 0;
}

// writer opens the FIFO with flags and writes the payload.
static int writer(int flags) {
  int fd = open(fifo, O_WRONLY | flags);
  if (fd < 0) return fail_errno();
  if (write(fd, payload, sizeof(payload) - 1) != (ssize_t)(sizeof(payload) - 1)) return fail_errno();
  close(fd);
  return 0;
}

typedef struct {
  const char *shape;
  char result[64];
  char note[256];
} outcome;

static pid_t spawn(int (*fn)(int), int flags) {
  pid_t pid = fork();
  if (pid == 0) _exit(fn(flags));
  return pid;
}

// status_text describes an end's wait status.
static void status_text(char *out, size_t n, int status) {
  if (WIFSIGNALED(status)) {
    snprintf(out, n, "killed by signal %d", WTERMSIG(status));
  } else if (WEXITSTATUS(status) == 0) {
    snprintf(out, n, "ok");
  } else if (WEXITSTATUS(status) == exitWrongData) {
    snprintf(out, n, "wrong data");
  } else {
    const char *e = strerrorname_np(WEXITSTATUS(status) - exitErrnoBase);
    snprintf(out, n, "%s", e ? e : "error");
  }
}

// finish waits for the ends (pids[i] > 0) until the case's deadline, kills
// those still running, and fills o.
static void finish(outcome *o, const char *names[], pid_t pids[], int n, long start) {
  int status[2] = {0, 0}, done[2] = {0, 0}, left = n;
  while (left > 0 && now_ms() - start < caseDeadlineMS) {
    for (int i = 0; i < n; i++) {
      if (done[i]) continue;
      pid_t r = waitpid(pids[i], &status[i], WNOHANG);
      if (r == pids[i]) {
        done[i] = 1;
        left--;
      }
    }
    if (left > 0) sleep_ms(10);
  }
  long elapsed = now_ms() - start;
  char desc[2][64];
  int hung = 0;
  for (int i = 0; i < n; i++) {
    if (done[i]) {
      status_text(desc[i], sizeof(desc[i]), status[i]);
      continue;
    }
    hung = 1;
    snprintf(desc[i], sizeof(desc[i]), "blocked");
    kill(pids[i], SIGKILL);
    // An end that SIGKILL does not end within 2 s is left behind; the
    // harness's deadline and teardown take care of it.
    long kstart = now_ms();
    while (now_ms() - kstart < 2000) {
      if (waitpid(pids[i], &status[i], WNOHANG) == pids[i]) break;
      sleep_ms(10);
    }
  }
  snprintf(o->note, sizeof(o->note), "%s: %s, %s: %s, after %ld ms", names[0], desc[0], names[1], desc[1], elapsed);
  if (hung) {
    snprintf(o->result, sizeof(o->result), "hang");
    return;
  }
  // The first end that failed names the result.
  for (int i = 0; i < n; i++) {
    if (strcmp(desc[i], "ok") != 0) {
      snprintf(o->result, sizeof(o->result), "%s", desc[i]);
      return;
    }
  }
  snprintf(o->result, sizeof(o->result), "ok");
}

static void blocking_case(outcome *o, int reader_first) {
  const char *names[2] = {"reader", "writer"};
  pid_t pids[2];
  long start = now_ms();
  if (reader_first) {
    pids[0] = spawn(reader, 0);
    sleep_ms(100);
    pids[1] = spawn(writer, 0);
  } else {
    pids[1] = spawn(writer, 0);
    sleep_ms(100);
    pids[0] = spawn(reader, 0);
  }
  finish(o, names, pids, 2, start);
}

// runsv_sv: runsv opens supervise/ok O_RDONLY|O_NONBLOCK and keeps it open;
// sv, another process, opens it O_WRONLY|O_NONBLOCK, which succeeds only
// if a reader has it open, and writes nothing (sv just closes it). Here
// the "runsv" end reads what the "sv" end writes, so that the two must
// share one pipe.
static int runsv(int unused) {
  (void)unused;
  int fd = open(fifo, O_RDONLY | O_NONBLOCK);
  if (fd < 0) return fail_errno();
  // Blocking reads from here on.
  if (fcntl(fd, F_SETFL, 0) != 0) return fail_errno();
  char buf[64];
  size_t got = 0;
  for (;;) {
    ssize_t n = read(fd, buf + got, sizeof(buf) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno();
    // End of file before any writer opened: wait for one.
    if (n == 0 && got == 0) {
      sleep_ms(10);
      continue;
    }
    if (n == 0) break;
    got += (size_t)n;
    if (got == sizeof(payload) - 1) break;
  }
  close(fd);
  if (got != sizeof(payload) - 1 || memcmp(buf, payload, got) != 0) return exitWrongData;
  return 0;
}

static void runsv_case(outcome *o) {
  const char *names[2] = {"runsv", "sv"};
  pid_t pids[2];
  long start = now_ms();
  pids[0] = spawn(runsv, 0);
  sleep_ms(100);
  pids[1] = spawn(writer, O_NONBLOCK);
  finish(o, names, pids, 2, start);
}

static void json_str(const char *s) {
  putchar('"');
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') {
      printf("\\%c", *s);
    } else if ((unsigned char)*s < 0x20) {
      printf("\\u%04x", *s);
    } else {
      putchar(*s);
    }
  }
  putchar('"');
}

int main(void) {
  fifo = getenv("IMAGEFIFO_PATH");
  if (fifo == NULL || *fifo == '\0') {
    fprintf(stderr, "imagefifo: IMAGEFIFO_PATH is not set\n");
    return 2;
  }
  outcome cases[3] = {
      {.shape = "open/image-fifo/reader-first"},
      {.shape = "open/image-fifo/writer-first"},
      {.shape = "open/image-fifo/runsv-sv"},
  };
  blocking_case(&cases[0], 1);
  blocking_case(&cases[1], 0);
  runsv_case(&cases[2]);

  printf("{\n  \"program\": \"imagefifo\",\n  \"cases\": [\n");
  for (int i = 0; i < 3; i++) {
    printf("    {\"shape\": ");
    json_str(cases[i].shape);
    printf(", \"disposition\": \"none\", \"observed\": {\"result\": ");
    json_str(cases[i].result);
    printf(", \"handler_ran\": false}, \"note\": ");
    json_str(cases[i].note);
    printf("}%s\n", i < 2 ? "," : "");
  }
  printf("  ]\n}\n");
  return 0;
}
