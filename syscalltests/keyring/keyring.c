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
// Output, one line per mode:
//   mode=fork joins=1000 ok=1000 failed=0 first_failure=- errno=-
// Exit status: 0 if every join succeeded, 1 if one failed, 2 on usage or
// setup errors.
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

// run joins n times in mode and prints the result line; it returns the
// number of failed joins, or -1 on a setup error.
static int run(const char *mode, int n) {
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
  printf("mode=%s joins=%d ok=%d failed=%d first_failure=%s errno=%s\n", mode,
         n, ok, failed, fb,
         first >= 0 ? (strerrorname_np(first_errno) ?: "?") : "-");
  fflush(stdout);
  return failed;
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
  int bad = 0;
  const char *modes[] = {"fork", "same"};
  for (int m = 0; m < 2; m++) {
    if (only && strcmp(only, modes[m]))
      continue;
    int f = run(modes[m], n);
    if (f < 0)
      return 2;
    bad += f;
  }
  return bad ? 1 : 0;
}
