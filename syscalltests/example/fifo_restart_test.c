// fifo_restart_test is an ordinary test program of the kind a user of
// runsc_test has: it exits 0 when the code under test behaves, 1 when not.
// It checks what runc's exec FIFO needs from the kernel: a blocking
// open(2) of a FIFO, interrupted again and again by a signal whose handler
// has SA_RESTART, is restarted and completes once the other end opens;
// it never fails with EINTR (signal(7)). Stock gVisor returned EINTR
// (restartsys patch 0002); Linux and patched runsc pass.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static char path[4096];

static void on_alarm(int sig) { (void)sig; }

// writer opens the other end after a while, so the reader really blocks.
static void *writer(void *arg) {
  (void)arg;
  usleep(20000);
  int fd = open(path, O_WRONLY);
  if (fd >= 0) close(fd);
  return NULL;
}

int main(void) {
  const char *dir = getenv("TEST_TMPDIR");
  if (!dir) dir = "/tmp";
  snprintf(path, sizeof path, "%s/fifo-%d", dir, (int)getpid());
  if (mkfifo(path, 0600) < 0) {
    perror("mkfifo");
    return 2;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, NULL);
  // A signal every 500 µs: many per blocking open.
  struct itimerval it = {{0, 500}, {0, 500}};
  setitimer(ITIMER_REAL, &it, NULL);
  int eintr = 0, rounds = 200;
  for (int i = 0; i < rounds; i++) {
    pthread_t t;
    pthread_create(&t, NULL, writer, NULL);
    int fd = open(path, O_RDONLY);
    if (fd < 0 && errno == EINTR) {
      eintr++;
    } else if (fd < 0) {
      perror("open");
      return 2;
    } else {
      close(fd);
    }
    pthread_join(t, NULL);
  }
  unlink(path);
  printf("%d of %d blocking FIFO opens failed with EINTR under an SA_RESTART handler\n", eintr, rounds);
  return eintr == 0 ? 0 : 1;
}
