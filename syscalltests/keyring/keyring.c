//go:build ignore

// The constraint above keeps the go tool from treating this C file as Go
// package source; cc ignores it.

// keyring: creates and drops session keyrings, the way runc does on every
// container start and exec (keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL) unless
// --no-new-keyring), and reports how many of the joins failed.
//
//   fork  each join in a fresh child process that then exits, so the new
//         keyring loses its last reference when the child exits;
//   same  every join in this process: each join replaces the previous
//         session keyring, which loses its last reference.
//
// Linux frees a keyring when its last reference goes (key_put() and the key
// garbage collector), so every join succeeds, as root (root_maxkeys is
// 1000000) and, given the collector time to run, as any user.  A kernel that
// never frees keyrings fails every join after its key quota with EDQUOT.
//
// Build: cc -static -O2 -o out/keyring syscalltests/keyring/keyring.c
// Usage: keyring [-n COUNT] [-mode fork|same]   (default 1000, both modes)
// Output: one guestio.Report (program "keyring") as JSON on standard output,
// one case per mode: shape "keyctl/join-session-keyring/MODE", disposition
// "none" (no signal), result "ok" if every join succeeded or the errno name
// of the first failure, counters joins, ok, failed, first_failure (-1 for
// none).  On standard error, one line per mode:
//   mode=fork joins=1000 ok=1000 failed=0 first_failure=- errno=-
// Exit status: 0 when it ran (whatever it observed), 2 on usage or setup
// errors.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/keyctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static long join_anonymous(void) {
  long r = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL);
  return r < 0 ? -(long)errno : r;
}

// outcome is what one mode saw.
struct outcome {
  const char *mode;
  int joins, ok, failed, first, first_errno;
};

// run joins n times in mode, prints the result line on standard error and
// fills o; it returns -1 on a setup error.
static int run(const char *mode, int n, struct outcome *o) {
  int ok = 0, failed = 0, first = -1, first_errno = 0;
  for (int i = 0; i < n; i++) {
    long r;
    if (!strcmp(mode, "fork")) {
      pid_t c = fork();
      if (c < 0) {
        perror("fork");
        return -1;
      }
      if (c == 0) {
        long j = join_anonymous();
        _exit(j < 0 ? (int)-j : 0);
      }
      int st;
      while (waitpid(c, &st, 0) < 0) {
        if (errno != EINTR) {
          perror("waitpid");
          return -1;
        }
      }
      if (!WIFEXITED(st)) {
        fprintf(stderr, "keyring: child killed by signal %d\n", WTERMSIG(st));
        return -1;
      }
      r = -(long)WEXITSTATUS(st);
    } else {
      r = join_anonymous();
    }
    if (r >= 0) {
      ok++;
    } else {
      if (first < 0) {
        first = i;
        first_errno = (int)-r;
      }
      failed++;
    }
  }
  char fb[16] = "-";
  if (first >= 0)
    snprintf(fb, sizeof fb, "%d", first);
  fprintf(stderr, "mode=%s joins=%d ok=%d failed=%d first_failure=%s errno=%s\n",
          mode, n, ok, failed, fb,
          first >= 0 ? (strerrorname_np(first_errno) ?: "?") : "-");
  *o = (struct outcome){mode, n, ok, failed, first, first_errno};
  return 0;
}

static void print_report(const struct outcome *outs, int n) {
  printf("{\n  \"program\": \"keyring\",\n  \"cases\": [");
  for (int i = 0; i < n; i++) {
    const struct outcome *o = &outs[i];
    const char *res = "ok";
    if (o->first >= 0)
      res = strerrorname_np(o->first_errno) ?: "EUNKNOWN";
    printf("%s\n    {\"shape\": \"keyctl/join-session-keyring/%s\", "
           "\"disposition\": \"none\", \"observed\": {\"result\": \"%s\", "
           "\"handler_ran\": false}, \"counters\": {\"joins\": %d, \"ok\": "
           "%d, \"failed\": %d, \"first_failure\": %d}}",
           i ? "," : "", o->mode, res, o->joins, o->ok, o->failed, o->first);
  }
  printf("\n  ]\n}\n");
  fflush(stdout);
}

int main(int argc, char **argv) {
  int n = 1000;
  const char *only = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-n") && i + 1 < argc)
      n = atoi(argv[++i]);
    else if (!strcmp(argv[i], "-mode") && i + 1 < argc)
      only = argv[++i];
    else {
      fprintf(stderr, "usage: keyring [-n COUNT] [-mode fork|same]\n");
      return 2;
    }
  }
  const char *modes[] = {"fork", "same"};
  struct outcome outs[2];
  int nouts = 0;
  for (int m = 0; m < 2; m++) {
    if (only && strcmp(only, modes[m]))
      continue;
    if (run(modes[m], n, &outs[nouts++]) < 0)
      return 2;
  }
  print_report(outs, nouts);
  return 0;
}
