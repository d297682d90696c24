// pipe_restart_test: a blocking read(2) of a pipe, interrupted again and
// again by SIGALRM whose handler has SA_RESTART, is restarted and returns
// the byte written 20 ms later; it never fails with EINTR. Exit 0 if so.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static int fds[2];

static void on_alarm(int sig) { (void)sig; }

static void *writer(void *arg) {
  (void)arg;
  usleep(20000);
  if (write(fds[1], "x", 1) != 1) perror("write");
  return NULL;
}

int main(void) {
  if (pipe(fds) < 0) {
    perror("pipe");
    return 2;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {{0, 500}, {0, 500}};
  setitimer(ITIMER_REAL, &it, NULL);
  int bad = 0;
  for (int i = 0; i < 100; i++) {
    pthread_t t;
    char c;
    pthread_create(&t, NULL, writer, NULL);
    ssize_t n = read(fds[0], &c, 1);
    if (n != 1) {
      fprintf(stderr, "read: %zd (%s)\n", n, n < 0 ? strerror(errno) : "short");
      bad++;
    }
    pthread_join(t, NULL);
  }
  printf("%d of 100 interrupted pipe reads did not return the byte\n", bad);
  return bad == 0 ? 0 : 1;
}
