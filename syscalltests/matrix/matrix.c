//go:build ignore

// The constraint above keeps the go tool from treating this C file as part
// of the Go package in this directory (a Go package without cgo may not
// hold .c files); cc ignores it.

// matrix: the signal(7) conformance matrix guest program.
//
// For every blocking call shape and every signal disposition it starts the
// call on a fresh thread, waits until that thread is asleep in the kernel
// (/proc/self/task/TID/stat state 'S' or 'D'), sends SIGUSR1 to the thread
// with tgkill, waits SETTLE_MS, then completes the operation from the main
// thread (writes the data, releases the lock, kills the child, ...) so that a
// restarted call succeeds.  It records what the call returned and whether
// the handler ran, and prints one guestio.Report (program "matrix") as JSON
// on standard output.
//
// Signals:
//   SIGUSR1 is the interrupting signal.  Dispositions:
//     restart    sa_handler with SA_RESTART
//     norestart  sa_handler without SA_RESTART
//     ignore     SIG_IGN
//     block      sa_handler without SA_RESTART installed, but SIGUSR1 masked
//                in the blocking thread (so it stays pending and is
//                discarded when the thread exits)
//     stop       no SIGUSR1 at all: the whole process is stopped with
//                SIGSTOP and, once the blocking thread is seen stopped,
//                continued with SIGCONT, both sent by a helper child (a
//                stopped process cannot continue itself); no handler runs.
//                Run as PID 1 (the init of a container), the program
//                first forks and runs the matrix in the child, because
//                init ignores SIGSTOP sent from inside its PID namespace.
//   Storm shapes (shape.storm_ms) instead get SIGUSR1 every storm_ms ms
//   until the call returns and are never completed; they report the time
//   from the first signal to the return as the storm_return_ms counter.
//   SIGUSR2 has a handler without SA_RESTART and is never masked in the
//   blocking thread.  It is used to end sigsuspend/pause (the "completion"
//   of those shapes) and to unblock a call forcibly after its deadline.
//   sigsuspend is called with the thread's current mask, so under "block"
//   SIGUSR1 stays blocked during it.
//
// Build: cc -static -O2 -pthread -o out/matrix syscalltests/matrix/*.c
// Flags: -list, -filter SUBSTRING (shape name), -disp NAME[,NAME...],
//        -settle MS, -watchdog SECONDS.
// Environment: MATRIX_HOST_FIFO, the path of a FIFO made on the host (under
//        runsc in a bind-mounted directory, with --host-fifo=open), adds
//        the host-fifo shapes.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/sem.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// Timing.  SLEEP_MS is the length of every time-based call (nanosleep
// family); TIMEOUT_S is the timeout of every call with a timeout that is
// completed before it expires (SO_RCVTIMEO, futex and semtimedop timeouts).
#define SLEEP_MS 600
#define TIMEOUT_S 4
// Storm shapes (shape.storm_ms != 0) get SIGUSR1 every storm_ms until the
// call returns, at most STORM_SIGNALS times, and are never completed: the
// call ends by itself, with EINTR or when its STORM_TIMEOUT_MS timeout
// expires.  A call that is restarted with its full timeout every time would
// only time out STORM_TIMEOUT_MS after the last signal.
#define STORM_TIMEOUT_MS 300
#define STORM_SIGNALS 10
#define ASLEEP_TIMEOUT_MS 2000
#define DEADLINE_MS 1500
#define FORCE_MS 2000
#define HANDLER_WAIT_MS 1000

static int settle_ms = 50;
static int watchdog_s = 150;

enum { D_RESTART, D_NORESTART, D_IGNORE, D_BLOCK, D_STOP, D_COUNT };
static const char *const disp_names[D_COUNT] = {"restart", "norestart",
                                                "ignore", "block", "stop"};

// ---------------------------------------------------------------- helpers

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_us(long us) {
  struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
}

static void sleep_ms(long ms) { sleep_us(ms * 1000); }

// SYS turns a libc "-1 and errno" result into "-errno".
#define SYS(expr)                        \
  ({                                     \
    long _r = (long)(expr);              \
    _r < 0 ? -(long)errno : _r;          \
  })

static char tmpdir[64];

// hostfifo is $MATRIX_HOST_FIFO: the path of a FIFO on a host file system
// for the host-fifo shapes, which are left out when it is unset.
static const char *hostfifo;

static void set_nonblock(int fd, int on) {
  int fl = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK));
}

// ------------------------------------------------------------------ signals

static volatile sig_atomic_t usr1_hits;
static volatile sig_atomic_t usr2_hits;

static void on_usr1(int sig) {
  (void)sig;
  usr1_hits++;
}

static void on_usr2(int sig) {
  (void)sig;
  usr2_hits++;
}

static void set_usr1(int disp) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  switch (disp) {
  case D_RESTART:
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    break;
  case D_NORESTART:
  case D_BLOCK:
    sa.sa_handler = on_usr1;
    break;
  default:
    sa.sa_handler = SIG_IGN;
    break;
  }
  sigaction(SIGUSR1, &sa, NULL);
}

// ------------------------------------------------------------ cell state

struct run;

// cell is the per-cell state of a shape.  Everything in it is released by
// teardown(): fds >= 0 are closed, a live child is killed and reaped, SysV
// objects are removed, path is unlinked.
struct cell {
  int fds[6];
  int extra[64];
  int nextra;
  int opfd;
  pid_t child;
  int reaped;
  int msqid;
  int semid;
  int fut;
  char path[96];
  int keep_path; // path is not the cell's own: teardown leaves it
  char mqname[32]; // a POSIX message queue teardown unlinks
  long want;       // the full count of a large write (0: any count is ok)
  struct sockaddr_storage addr;
  socklen_t alen;
  struct run *run;
};

struct shape;
typedef int (*setup_fn)(struct cell *, const struct shape *, char *err);
typedef long (*op_fn)(struct cell *, const struct shape *);
typedef void (*complete_fn)(struct cell *, const struct shape *);

struct shape {
  const char *name;
  setup_fn setup;
  op_fn op;
  complete_fn complete;
  int tr;   // transport (T_*)
  int call; // call variant (C_*)
  int storm_ms; // if not 0: a storm shape, SIGUSR1 every storm_ms ms
};

struct run {
  struct cell c;
  const struct shape *sh;
  int disp;
  atomic_int started;
  atomic_int done;
  atomic_int tid;
  long rv;
  long long t0, t1;
};

static void cell_init(struct cell *c) {
  memset(c, 0, sizeof *c);
  for (int i = 0; i < 6; i++)
    c->fds[i] = -1;
  c->opfd = -1;
  c->msqid = -1;
  c->semid = -1;
}

static void teardown(struct cell *c) {
  if (c->child > 0 && !c->reaped) {
    kill(c->child, SIGKILL);
    while (waitpid(c->child, NULL, 0) < 0 && errno == EINTR) {
    }
  }
  for (int i = 0; i < 6; i++)
    if (c->fds[i] >= 0)
      close(c->fds[i]);
  for (int i = 0; i < c->nextra; i++)
    if (c->extra[i] >= 0)
      close(c->extra[i]);
  if (c->opfd >= 0)
    close(c->opfd);
  if (c->msqid >= 0)
    msgctl(c->msqid, IPC_RMID, NULL);
  if (c->semid >= 0)
    semctl(c->semid, 0, IPC_RMID);
  if (c->path[0] && !c->keep_path)
    unlink(c->path);
  if (c->mqname[0])
    mq_unlink(c->mqname);
}

static int fail(char *err, const char *what) {
  snprintf(err, 200, "%s: %s", what, strerrorname_np(errno) ?: "?");
  return -1;
}

static int cell_seq;

static void cell_path(struct cell *c, const char *base) {
  snprintf(c->path, sizeof c->path, "%s/%s.%d", tmpdir, base, ++cell_seq);
}

// --------------------------------------------------------------- transports

enum { T_NONE, T_USTREAM, T_USEQ, T_UDGRAM, T_TCP, T_UDP, T_PIPE };

static int loopback_listener(int type, struct cell *c) {
  int l = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (l < 0)
    return -1;
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // SO_REUSEADDR only for TCP (a listener's port in TIME_WAIT).  On a UDP
  // socket it lets an ephemeral bind (port 0) share a port that another
  // SO_REUSEADDR socket holds: the two ends of T_UDP, or a socket of a
  // concurrent run, could then share a port and take each other's
  // datagrams, and the receiving call waits for ever (a rare "hang" under
  // load, natively and under hostinet alike).
  if (type == SOCK_STREAM) {
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  }
  if (bind(l, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int e = errno;
    close(l);
    errno = e;
    return -1;
  }
  c->alen = sizeof c->addr;
  getsockname(l, (struct sockaddr *)&c->addr, &c->alen);
  return l;
}

// make_transport puts the receiving end in fds[0] and the sending end in
// fds[1].  small asks for small socket buffers (for the "full" shapes).
static int make_transport(struct cell *c, int tr, int small, char *err) {
  int sv[2];
  int bufsz = 4096;
  switch (tr) {
  case T_USTREAM:
  case T_USEQ:
  case T_UDGRAM: {
    int type = tr == T_USTREAM ? SOCK_STREAM
               : tr == T_USEQ  ? SOCK_SEQPACKET
                               : SOCK_DGRAM;
    if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) < 0)
      return fail(err, "socketpair");
    c->fds[0] = sv[0];
    c->fds[1] = sv[1];
    return 0;
  }
  case T_PIPE:
    if (pipe2(sv, O_CLOEXEC) < 0)
      return fail(err, "pipe2");
    c->fds[0] = sv[0];
    c->fds[1] = sv[1];
    return 0;
  case T_TCP: {
    int l = loopback_listener(SOCK_STREAM, c);
    if (l < 0)
      return fail(err, "tcp listener");
    c->fds[2] = l;
    if (small)
      setsockopt(l, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof bufsz);
    if (listen(l, 4) < 0)
      return fail(err, "listen");
    int cl = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (cl < 0)
      return fail(err, "socket");
    c->fds[1] = cl;
    if (small)
      setsockopt(cl, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof bufsz);
    int one = 1;
    setsockopt(cl, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(cl, (struct sockaddr *)&c->addr, c->alen) < 0)
      return fail(err, "connect");
    int s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    if (s < 0)
      return fail(err, "accept");
    c->fds[0] = s;
    close(l);
    c->fds[2] = -1;
    return 0;
  }
  case T_UDP: {
    struct cell tmp;
    int a = loopback_listener(SOCK_DGRAM, c);
    if (a < 0)
      return fail(err, "udp socket");
    c->fds[0] = a;
    struct sockaddr_storage aaddr = c->addr;
    socklen_t alen = c->alen;
    cell_init(&tmp);
    int b = loopback_listener(SOCK_DGRAM, &tmp);
    if (b < 0)
      return fail(err, "udp socket");
    c->fds[1] = b;
    if (connect(a, (struct sockaddr *)&tmp.addr, tmp.alen) < 0)
      return fail(err, "udp connect");
    if (connect(b, (struct sockaddr *)&aaddr, alen) < 0)
      return fail(err, "udp connect");
    return 0;
  }
  }
  errno = EINVAL;
  return fail(err, "transport");
}

// fill writes to fd without blocking until the kernel refuses more: writes
// of 64 KiB until EAGAIN, then of half that size, and so on down to 1 byte,
// so that the buffer is full to the byte in a few hundred writes whether the
// kernel counts bytes or per-packet overhead.
static int fill(int fd, char *err) {
  static char big[65536];
  set_nonblock(fd, 1);
  long writes = 0;
  for (size_t sz = sizeof big; sz >= 1; sz /= 2) {
    for (;;) {
      if (write(fd, big, sz) >= 0) {
        if (++writes > 200000) {
          errno = EFBIG;
          return fail(err, "fill never filled");
        }
        continue;
      }
      if (errno == EAGAIN || errno == EMSGSIZE || errno == ENOBUFS)
        break;
      return fail(err, "fill");
    }
  }
  set_nonblock(fd, 0);
  return 0;
}

// drain reads fd without blocking until the blocking thread is done (or
// 500 ms pass), so that a writer blocked on a full buffer can go on.
static void drain(int fd, struct run *r) {
  static char buf[65536];
  set_nonblock(fd, 1);
  long long end = now_ms() + 500;
  do {
    for (int i = 0; i < 1000 && read(fd, buf, sizeof buf) > 0; i++) {
    }
    if (atomic_load(&r->done))
      break;
    sleep_ms(2);
  } while (now_ms() < end);
}

// ----------------------------------------------------- recv family shapes

enum {
  C_READ,
  C_READV,
  C_RECV,
  C_RECVFROM,
  C_PEEKTRUNC,
  C_RECVMSG,
  C_RECVMMSG,
  C_WRITE,
  C_SEND,
  C_SENDMSG,
  C_ACCEPT,
  C_ACCEPT4,
  C_WAIT4,
  C_WAITID,
  C_RDONLY,
  C_WRONLY,
  C_EPOLL,
  C_POLL,
  C_SELECT,
  C_PSELECT,
  C_PPOLL,
  C_NANOSLEEP,
  C_CLOCK_REL,
  C_CLOCK_ABS,
  C_SIGSUSPEND,
  C_PAUSE,
  C_FUTEX,
  C_FUTEX_TIMEOUT,
  C_FUTEX_BITSET_ABS,
  C_FUTEX_LOCK_PI,
  C_MSGRCV,
  C_MSGSND,
  C_SEMOP,
  C_SEMTIMEDOP,
  C_WRITE_BIG,
  C_SENDTO,
  C_MQ_RECEIVE,
  C_MQ_SEND,
  C_MQ_TIMEDRECEIVE,
};

static int setup_recv(struct cell *c, const struct shape *sh, char *err) {
  return make_transport(c, sh->tr, 0, err);
}

static int setup_rcvtimeo(struct cell *c, const struct shape *sh, char *err) {
  if (make_transport(c, sh->tr, 0, err) < 0)
    return -1;
  struct timeval tv = {TIMEOUT_S, 0};
  if (setsockopt(c->fds[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)
    return fail(err, "SO_RCVTIMEO");
  return 0;
}

static int setup_rcvtimeo_storm(struct cell *c, const struct shape *sh,
                               char *err) {
  if (make_transport(c, sh->tr, 0, err) < 0)
    return -1;
  struct timeval tv = {0, STORM_TIMEOUT_MS * 1000};
  if (setsockopt(c->fds[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)
    return fail(err, "SO_RCVTIMEO");
  return 0;
}

static long op_recv(struct cell *c, const struct shape *sh) {
  int fd = c->fds[0];
  char buf[64];
  struct iovec iov[2] = {{buf, 32}, {buf + 32, 32}};
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  mh.msg_name = &ss;
  mh.msg_namelen = sizeof ss;
  mh.msg_iov = iov;
  mh.msg_iovlen = 2;
  switch (sh->call) {
  case C_READ:
    return SYS(read(fd, buf, sizeof buf));
  case C_READV:
    return SYS(readv(fd, iov, 2));
  case C_RECV:
    return SYS(recv(fd, buf, sizeof buf, 0));
  case C_RECVFROM:
    return SYS(recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&ss, &sl));
  case C_PEEKTRUNC:
    return SYS(recvfrom(fd, NULL, 0, MSG_PEEK | MSG_TRUNC, NULL, NULL));
  case C_RECVMSG:
    return SYS(recvmsg(fd, &mh, 0));
  case C_RECVMMSG: {
    struct mmsghdr mm;
    memset(&mm, 0, sizeof mm);
    mm.msg_hdr = mh;
    return SYS(recvmmsg(fd, &mm, 1, 0, NULL));
  }
  }
  return -EINVAL;
}

static void complete_send1(struct cell *c, const struct shape *sh) {
  (void)sh;
  if (send(c->fds[1], "x", 1, MSG_NOSIGNAL) < 0)
    (void)!write(c->fds[1], "x", 1);
}

// ----------------------------------------------------- full-buffer writers

static int setup_full(struct cell *c, const struct shape *sh, char *err) {
  if (make_transport(c, sh->tr, 1, err) < 0)
    return -1;
  return fill(c->fds[1], err);
}

static int setup_sndtimeo(struct cell *c, const struct shape *sh, char *err) {
  if (setup_full(c, sh, err) < 0)
    return -1;
  struct timeval tv = {TIMEOUT_S, 0};
  if (setsockopt(c->fds[1], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0)
    return fail(err, "SO_SNDTIMEO");
  return 0;
}

// write/unix-stream/256k: one write(2) of BIG_WRITE bytes into a full
// stream socket.  It must move every byte or fail as a whole: Linux's
// unix_stream_sendmsg returns what it sent only when sending stops for a
// reason other than a signal that finds nothing sent yet.  A count short
// of BIG_WRITE is reported as the result "short".
#define BIG_WRITE (256 * 1024)

static int setup_full_big(struct cell *c, const struct shape *sh, char *err) {
  c->want = BIG_WRITE;
  return setup_full(c, sh, err);
}

// write/unix-stream/256k-partial: the same write into an empty socket, so
// that it has sent part of the data when it starts to wait for room.
static int setup_big(struct cell *c, const struct shape *sh, char *err) {
  c->want = BIG_WRITE;
  return make_transport(c, sh->tr, 1, err);
}

// sendto/unix-dgram/bound-full: an unconnected datagram socket sends to a
// bound (not connected) receiver whose queue is full, so the sender waits
// for room (Linux: unix_wait_for_peer); the completion drains the
// receiver, which must wake the sender.
static int setup_dgram_bound_full(struct cell *c, const struct shape *sh,
                                  char *err) {
  (void)sh;
  int r = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (r < 0)
    return fail(err, "socket");
  c->fds[0] = r;
  cell_path(c, "dgram");
  struct sockaddr_un *su = (struct sockaddr_un *)&c->addr;
  memset(su, 0, sizeof *su);
  su->sun_family = AF_UNIX;
  snprintf(su->sun_path, sizeof su->sun_path, "%s", c->path);
  c->alen = sizeof *su;
  if (bind(r, (struct sockaddr *)su, c->alen) < 0)
    return fail(err, "bind");
  int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    return fail(err, "socket");
  c->fds[1] = s;
  // Datagrams of 4 KiB until EAGAIN, then of half that size, down to 1
  // byte, so that the queue is full whether the kernel counts datagrams
  // or bytes.
  static char dgram[4096];
  long sends = 0;
  for (size_t sz = sizeof dgram; sz >= 1; sz /= 2) {
    for (;;) {
      if (sendto(s, dgram, sz, MSG_DONTWAIT, (struct sockaddr *)su, c->alen) >=
          0) {
        if (++sends > 200000) {
          errno = EFBIG;
          return fail(err, "receiver queue never filled");
        }
        continue;
      }
      if (errno == EAGAIN)
        break;
      return fail(err, "prefill sendto");
    }
  }
  return 0;
}

static long op_write(struct cell *c, const struct shape *sh) {
  int fd = c->fds[1];
  char b = 'y';
  struct iovec iov = {&b, 1};
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  switch (sh->call) {
  case C_WRITE:
    return SYS(write(fd, &b, 1));
  case C_SEND:
    return SYS(send(fd, &b, 1, MSG_NOSIGNAL));
  case C_SENDMSG:
    return SYS(sendmsg(fd, &mh, MSG_NOSIGNAL));
  case C_WRITE_BIG: {
    static char big[BIG_WRITE];
    return SYS(write(fd, big, sizeof big));
  }
  case C_SENDTO:
    return SYS(sendto(fd, &b, 1, MSG_NOSIGNAL, (struct sockaddr *)&c->addr,
                      c->alen));
  }
  return -EINVAL;
}

static void complete_drain(struct cell *c, const struct shape *sh) {
  (void)sh;
  drain(c->fds[0], c->run);
}

// ---------------------------------------------------------- accept/connect

static int unix_listener(struct cell *c, int backlog, char *err) {
  int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (l < 0)
    return fail(err, "socket");
  c->fds[2] = l;
  cell_path(c, "sock");
  struct sockaddr_un *su = (struct sockaddr_un *)&c->addr;
  memset(su, 0, sizeof *su);
  su->sun_family = AF_UNIX;
  snprintf(su->sun_path, sizeof su->sun_path, "%s", c->path);
  c->alen = sizeof *su;
  if (bind(l, (struct sockaddr *)su, c->alen) < 0)
    return fail(err, "bind");
  if (listen(l, backlog) < 0)
    return fail(err, "listen");
  return 0;
}

static int setup_accept(struct cell *c, const struct shape *sh, char *err) {
  if (sh->tr == T_USTREAM)
    return unix_listener(c, 8, err);
  int l = loopback_listener(SOCK_STREAM, c);
  if (l < 0)
    return fail(err, "tcp listener");
  c->fds[2] = l;
  if (listen(l, 8) < 0)
    return fail(err, "listen");
  return 0;
}

static long op_accept(struct cell *c, const struct shape *sh) {
  long r = sh->call == C_ACCEPT
               ? SYS(accept(c->fds[2], NULL, NULL))
               : SYS(accept4(c->fds[2], NULL, NULL, SOCK_CLOEXEC));
  if (r >= 0)
    c->opfd = (int)r;
  return r;
}

static void complete_connect(struct cell *c, const struct shape *sh) {
  int fam = sh->tr == T_USTREAM ? AF_UNIX : AF_INET;
  int s = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
  c->fds[3] = s;
  if (s >= 0)
    connect(s, (struct sockaddr *)&c->addr, c->alen);
}

// connect/unix-stream/backlog-full: the listener's queue is filled with
// non-blocking connects until EAGAIN, then a blocking connect waits.
static int setup_connect_full(struct cell *c, const struct shape *sh,
                              char *err) {
  (void)sh;
  if (unix_listener(c, 0, err) < 0)
    return -1;
  set_nonblock(c->fds[2], 1);
  for (;;) {
    if (c->nextra >= 60) {
      errno = EFBIG;
      return fail(err, "backlog never filled");
    }
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0)
      return fail(err, "socket");
    c->extra[c->nextra++] = s;
    if (connect(s, (struct sockaddr *)&c->addr, c->alen) < 0) {
      if (errno == EAGAIN)
        break;
      return fail(err, "prefill connect");
    }
  }
  c->fds[0] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c->fds[0] < 0)
    return fail(err, "socket");
  return 0;
}

static long op_connect(struct cell *c, const struct shape *sh) {
  (void)sh;
  return SYS(connect(c->fds[0], (struct sockaddr *)&c->addr, c->alen));
}

static void complete_accept_all(struct cell *c, const struct shape *sh) {
  (void)sh;
  long long end = now_ms() + 500;
  do {
    int s;
    while (c->nextra < 64 && (s = accept4(c->fds[2], NULL, NULL,
                                          SOCK_CLOEXEC)) >= 0)
      c->extra[c->nextra++] = s;
    if (atomic_load(&c->run->done))
      break;
    sleep_ms(2);
  } while (now_ms() < end);
}

// ------------------------------------------------------------------ children

static int fork_sleeper(struct cell *c, char *err) {
  pid_t p = fork();
  if (p < 0)
    return fail(err, "fork");
  if (p == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (;;)
      pause();
  }
  c->child = p;
  return 0;
}

static int setup_child(struct cell *c, const struct shape *sh, char *err) {
  (void)sh;
  return fork_sleeper(c, err);
}

static long op_wait(struct cell *c, const struct shape *sh) {
  long r;
  if (sh->call == C_WAIT4) {
    int st;
    r = SYS(wait4(c->child, &st, 0, NULL));
  } else {
    siginfo_t si;
    r = SYS(waitid(P_PID, c->child, &si, WEXITED));
  }
  if (r >= 0)
    c->reaped = 1;
  return r;
}

static void complete_kill_child(struct cell *c, const struct shape *sh) {
  (void)sh;
  if (c->child > 0)
    kill(c->child, SIGKILL);
}

// --------------------------------------------------------------------- locks

enum { L_FLOCK, L_POSIX_CHILD, L_OFD };

static int setup_lock(struct cell *c, const struct shape *sh, char *err) {
  cell_path(c, "lock");
  c->fds[0] = open(c->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (c->fds[0] < 0)
    return fail(err, "open");
  c->fds[1] = open(c->path, O_RDWR | O_CLOEXEC);
  if (c->fds[1] < 0)
    return fail(err, "open");
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
  switch (sh->tr) {
  case L_FLOCK:
    if (flock(c->fds[1], LOCK_EX) < 0)
      return fail(err, "flock");
    return 0;
  case L_OFD:
    if (fcntl(c->fds[1], F_OFD_SETLK, &fl) < 0)
      return fail(err, "F_OFD_SETLK");
    return 0;
  case L_POSIX_CHILD: {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
      return fail(err, "pipe2");
    c->fds[2] = p[0];
    c->fds[3] = p[1];
    pid_t pid = fork();
    if (pid < 0)
      return fail(err, "fork");
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      char ok = fcntl(c->fds[1], F_SETLK, &fl) == 0 ? 'y' : 'n';
      (void)!write(p[1], &ok, 1);
      for (;;)
        pause();
    }
    c->child = pid;
    struct pollfd pfd = {p[0], POLLIN, 0};
    char ok = 'n';
    if (poll(&pfd, 1, 2000) != 1 || read(p[0], &ok, 1) != 1 || ok != 'y') {
      errno = ENOLCK;
      return fail(err, "child did not take the lock");
    }
    return 0;
  }
  }
  return -1;
}

static long op_lock(struct cell *c, const struct shape *sh) {
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
  switch (sh->tr) {
  case L_FLOCK:
    return SYS(flock(c->fds[0], LOCK_EX));
  case L_OFD:
    return SYS(fcntl(c->fds[0], F_OFD_SETLKW, &fl));
  case L_POSIX_CHILD:
    return SYS(fcntl(c->fds[0], F_SETLKW, &fl));
  }
  return -EINVAL;
}

static void complete_unlock(struct cell *c, const struct shape *sh) {
  struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET};
  switch (sh->tr) {
  case L_FLOCK:
    flock(c->fds[1], LOCK_UN);
    break;
  case L_OFD:
    fcntl(c->fds[1], F_OFD_SETLK, &fl);
    break;
  case L_POSIX_CHILD:
    kill(c->child, SIGKILL);
    break;
  }
}

// --------------------------------------------------------------------- futex

static int setup_futex(struct cell *c, const struct shape *sh, char *err) {
  (void)sh;
  (void)err;
  c->fut = 0;
  return 0;
}

static long op_futex(struct cell *c, const struct shape *sh) {
  struct timespec ts = {TIMEOUT_S, 0};
  switch (sh->call) {
  case C_FUTEX:
    return SYS(syscall(SYS_futex, &c->fut, FUTEX_WAIT_PRIVATE, 0, NULL,
                       NULL, 0));
  case C_FUTEX_TIMEOUT:
    return SYS(syscall(SYS_futex, &c->fut, FUTEX_WAIT_PRIVATE, 0, &ts, NULL,
                       0));
  case C_FUTEX_BITSET_ABS: {
    struct timespec abs;
    clock_gettime(CLOCK_MONOTONIC, &abs);
    abs.tv_sec += TIMEOUT_S;
    return SYS(syscall(SYS_futex, &c->fut, FUTEX_WAIT_BITSET_PRIVATE, 0, &abs,
                       NULL, FUTEX_BITSET_MATCH_ANY));
  }
  case C_FUTEX_LOCK_PI:
    return SYS(syscall(SYS_futex, &c->fut, FUTEX_LOCK_PI_PRIVATE, 0, NULL,
                       NULL, 0));
  }
  return -EINVAL;
}

// setup_futex_pi makes the main thread (which sets up and completes every
// cell) the owner of the PI futex the blocking thread locks.
static int setup_futex_pi(struct cell *c, const struct shape *sh, char *err) {
  (void)sh;
  (void)err;
  c->fut = (int)gettid();
  return 0;
}

// complete_futex_pi hands the PI futex over to the waiter.  A second call
// (forced unblock) fails with EPERM: the main thread no longer owns it.
static void complete_futex_pi(struct cell *c, const struct shape *sh) {
  (void)sh;
  syscall(SYS_futex, &c->fut, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0);
}

static void complete_futex(struct cell *c, const struct shape *sh) {
  (void)sh;
  __atomic_store_n(&c->fut, 1, __ATOMIC_SEQ_CST);
  syscall(SYS_futex, &c->fut, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

// ---------------------------------------------------------------------- FIFO

static int setup_fifo(struct cell *c, const struct shape *sh, char *err) {
  (void)sh;
  cell_path(c, "fifo");
  if (mkfifo(c->path, 0600) < 0)
    return fail(err, "mkfifo");
  return 0;
}

static long op_open_fifo(struct cell *c, const struct shape *sh) {
  int fl = (sh->call == C_RDONLY ? O_RDONLY : O_WRONLY) | O_CLOEXEC;
  long r = SYS(open(c->path, fl));
  if (r >= 0)
    c->opfd = (int)r;
  return r;
}

// setup_host_fifo uses the FIFO named by MATRIX_HOST_FIFO instead of one in
// /tmp.  Under runsc it is a FIFO the harness made on the host, in a
// directory bind-mounted into the sandbox (a gofer mount, with
// --host-fifo=open), so open(2) goes through the gofer's host-FIFO path,
// not the Sentry's own pipe (a FIFO made with mkfifo inside the sandbox is
// the Sentry's own, even on a gofer mount).  Natively it is just a FIFO.
// Every cell closes its ends, so the next cell finds it empty; it is not
// unlinked.
static int setup_host_fifo(struct cell *c, const struct shape *sh, char *err) {
  (void)sh;
  struct stat st;
  if (stat(hostfifo, &st) < 0)
    return fail(err, "stat MATRIX_HOST_FIFO");
  if (!S_ISFIFO(st.st_mode)) {
    errno = EINVAL;
    return fail(err, "MATRIX_HOST_FIFO is not a FIFO");
  }
  if (snprintf(c->path, sizeof c->path, "%s", hostfifo) >= (int)sizeof c->path) {
    c->path[0] = 0;
    errno = ENAMETOOLONG;
    return fail(err, "MATRIX_HOST_FIFO");
  }
  c->keep_path = 1;
  return 0;
}

// The other end is opened O_RDWR (never blocks on Linux) and kept open until
// teardown.
static void complete_open_fifo(struct cell *c, const struct shape *sh) {
  (void)sh;
  c->fds[3] = open(c->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
}

// -------------------------------------------------------------- multiplexers

static int setup_mux(struct cell *c, const struct shape *sh, char *err) {
  if (make_transport(c, T_PIPE, 0, err) < 0)
    return -1;
  if (sh->call == C_EPOLL) {
    c->fds[2] = epoll_create1(EPOLL_CLOEXEC);
    if (c->fds[2] < 0)
      return fail(err, "epoll_create1");
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = c->fds[0]};
    if (epoll_ctl(c->fds[2], EPOLL_CTL_ADD, c->fds[0], &ev) < 0)
      return fail(err, "epoll_ctl");
  }
  return 0;
}

static long op_mux(struct cell *c, const struct shape *sh) {
  int fd = c->fds[0];
  struct pollfd pfd = {fd, POLLIN, 0};
  fd_set rs;
  FD_ZERO(&rs);
  FD_SET(fd, &rs);
  switch (sh->call) {
  case C_EPOLL: {
    struct epoll_event ev;
    return SYS(epoll_wait(c->fds[2], &ev, 1, -1));
  }
  case C_POLL:
    return SYS(poll(&pfd, 1, -1));
  case C_SELECT:
    return SYS(select(fd + 1, &rs, NULL, NULL, NULL));
  case C_PSELECT:
    return SYS(pselect(fd + 1, &rs, NULL, NULL, NULL, NULL));
  case C_PPOLL:
    return SYS(ppoll(&pfd, 1, NULL, NULL));
  }
  return -EINVAL;
}

// ------------------------------------------------------------------- sleeps

static long op_sleep(struct cell *c, const struct shape *sh) {
  (void)c;
  struct timespec d = {SLEEP_MS / 1000, (SLEEP_MS % 1000) * 1000000L};
  struct timespec rem;
  switch (sh->call) {
  case C_NANOSLEEP:
    return SYS(nanosleep(&d, &rem));
  case C_CLOCK_REL: {
    int e = clock_nanosleep(CLOCK_MONOTONIC, 0, &d, &rem);
    return e ? -e : 0;
  }
  case C_CLOCK_ABS: {
    struct timespec abs;
    clock_gettime(CLOCK_MONOTONIC, &abs);
    abs.tv_sec += d.tv_sec;
    abs.tv_nsec += d.tv_nsec;
    if (abs.tv_nsec >= 1000000000L) {
      abs.tv_sec++;
      abs.tv_nsec -= 1000000000L;
    }
    int e = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL);
    return e ? -e : 0;
  }
  }
  return -EINVAL;
}

static long op_sigwait(struct cell *c, const struct shape *sh) {
  (void)c;
  if (sh->call == C_PAUSE)
    return SYS(pause());
  sigset_t cur;
  pthread_sigmask(SIG_SETMASK, NULL, &cur);
  return SYS(sigsuspend(&cur));
}

// sigsuspend and pause end with SIGUSR2 (handler without SA_RESTART).
static void complete_usr2(struct cell *c, const struct shape *sh) {
  (void)sh;
  if (!atomic_load(&c->run->done))
    syscall(SYS_tgkill, getpid(), atomic_load(&c->run->tid), SIGUSR2);
}

// ------------------------------------------------------------------ signalfd

// SIGFD_SIG is the signal the signalfd shape reads.  Every thread of the
// program blocks it (main), so it is only ever taken through the signalfd.
#define SIGFD_SIG (SIGRTMIN + 2)

// read/signalfd/other-thread: the main thread makes a signalfd for
// SIGFD_SIG, another thread blocks reading it, and the completion sends
// SIGFD_SIG to the process, which the read must return (Linux:
// signalfd_dequeue dequeues for the reading thread, from its own queue or
// the process's).
static int setup_signalfd(struct cell *c, const struct shape *sh, char *err) {
  (void)sh;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGFD_SIG);
  // A signal a hung cell left pending would end this cell's read at once.
  struct timespec zero = {0, 0};
  while (sigtimedwait(&set, NULL, &zero) > 0) {
  }
  c->fds[0] = signalfd(-1, &set, SFD_CLOEXEC);
  if (c->fds[0] < 0)
    return fail(err, "signalfd");
  return 0;
}

static long op_signalfd(struct cell *c, const struct shape *sh) {
  (void)sh;
  struct signalfd_siginfo si;
  long r = SYS(read(c->fds[0], &si, sizeof si));
  if (r >= 0 && si.ssi_signo != (unsigned)SIGFD_SIG)
    return -EBADMSG;
  return r;
}

static void complete_signalfd(struct cell *c, const struct shape *sh) {
  (void)c;
  (void)sh;
  kill(getpid(), SIGFD_SIG);
}

// ---------------------------------------------------------- POSIX mqueue

// mq_timedreceive/empty and mq_timedsend/full: a queue of one 8-byte
// message, empty or full, and a call that blocks without a timeout (glibc's
// mq_receive and mq_send are the mq_timedreceive and mq_timedsend system
// calls without one). mq_timedreceive/timeout: the empty queue, with an
// absolute CLOCK_REALTIME timeout TIMEOUT_S away, completed before it
// expires.
// open_cell_queue makes the cell's queue of one 8-byte message, which
// teardown unlinks, and keeps its descriptor in c->fds[slot].
static int open_cell_queue(struct cell *c, int slot, char *err) {
  snprintf(c->mqname, sizeof c->mqname, "/matrix.%d.%d", (int)getpid(),
           ++cell_seq);
  struct mq_attr a = {.mq_maxmsg = 1, .mq_msgsize = 8};
  mqd_t q = mq_open(c->mqname, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600,
                    &a);
  if (q == (mqd_t)-1) {
    c->mqname[0] = 0;
    return fail(err, "mq_open");
  }
  c->fds[slot] = (int)q;
  return 0;
}

static int setup_mq(struct cell *c, const struct shape *sh, char *err) {
  if (open_cell_queue(c, 0, err) < 0)
    return -1;
  mqd_t q = (mqd_t)c->fds[0];
  if (sh->call == C_MQ_SEND && mq_send(q, "full", 4, 0) < 0)
    return fail(err, "mq_send");
  return 0;
}

static long op_mq(struct cell *c, const struct shape *sh) {
  char buf[8];
  if (sh->call == C_MQ_RECEIVE)
    return SYS(mq_receive((mqd_t)c->fds[0], buf, sizeof buf, NULL));
  if (sh->call == C_MQ_TIMEDRECEIVE) {
    struct timespec abs;
    clock_gettime(CLOCK_REALTIME, &abs);
    abs.tv_sec += TIMEOUT_S;
    return SYS(mq_timedreceive((mqd_t)c->fds[0], buf, sizeof buf, NULL, &abs));
  }
  return SYS(mq_send((mqd_t)c->fds[0], "msg", 3, 0));
}

static void complete_mq(struct cell *c, const struct shape *sh) {
  char buf[8];
  mqd_t q = (mqd_t)c->fds[0];
  if (sh->call != C_MQ_SEND) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    mq_timedsend(q, "msg", 3, 0, &now);
    return;
  }
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  mq_timedreceive(q, buf, sizeof buf, NULL, &now);
}

// mq_notify/thread-writes-pipe: a read of an empty pipe that the
// notification of a POSIX message queue fills. glibc's mq_notify with
// SIGEV_THREAD runs mq_notified in a new thread when a message arrives in the
// cell's empty queue (the kernel queues a cookie on a netlink socket that
// glibc's helper thread reads); the completion sends that message, and waits
// until the function has written to the pipe, so that teardown never closes
// the descriptor under it.
static atomic_int mq_notified_count;

static void mq_notified(union sigval v) {
  (void)!write(v.sival_int, "x", 1);
  atomic_fetch_add(&mq_notified_count, 1);
}

static int setup_mq_notify(struct cell *c, const struct shape *sh, char *err) {
  if (make_transport(c, sh->tr, 0, err) < 0 || open_cell_queue(c, 2, err) < 0)
    return -1;
  mqd_t q = (mqd_t)c->fds[2];
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_THREAD;
  sev.sigev_notify_function = mq_notified;
  sev.sigev_value.sival_int = c->fds[1];
  if (mq_notify(q, &sev) < 0)
    return fail(err, "mq_notify");
  return 0;
}

// prime_mq_notify makes glibc open the netlink socket its SIGEV_THREAD
// notifications use, which it keeps for the life of the process, before the
// cells' descriptors are counted: one registration on a queue of its own,
// removed at once. Where mq_notify fails (stock gVisor), the cells report
// it.
static void prime_mq_notify(void) {
  char name[32];
  snprintf(name, sizeof name, "/matrix.%d.prime", (int)getpid());
  struct mq_attr a = {.mq_maxmsg = 1, .mq_msgsize = 8};
  mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600, &a);
  if (q == (mqd_t)-1)
    return;
  mq_unlink(name);
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_THREAD;
  sev.sigev_notify_function = mq_notified;
  sev.sigev_value.sival_int = -1;
  if (mq_notify(q, &sev) == 0)
    mq_notify(q, NULL);
  mq_close(q);
}

static void complete_mq_notify(struct cell *c, const struct shape *sh) {
  (void)sh;
  int before = atomic_load(&mq_notified_count);
  if (mq_send((mqd_t)c->fds[2], "msg", 3, 0) < 0)
    return;
  for (int i = 0;
       i < HANDLER_WAIT_MS && atomic_load(&mq_notified_count) == before; i++)
    sleep_ms(1);
}

// --------------------------------------------------------------------- SysV

struct msg {
  long mtype;
  char text[1024];
};

static int setup_msg(struct cell *c, const struct shape *sh, char *err) {
  c->msqid = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
  if (c->msqid < 0)
    return fail(err, "msgget");
  if (sh->call == C_MSGSND) {
    struct msg m = {.mtype = 1};
    for (int i = 0;; i++) {
      if (i > 100000) {
        errno = EFBIG;
        return fail(err, "queue never filled");
      }
      if (msgsnd(c->msqid, &m, sizeof m.text, IPC_NOWAIT) < 0) {
        if (errno == EAGAIN)
          break;
        return fail(err, "msgsnd");
      }
    }
  }
  return 0;
}

static long op_msg(struct cell *c, const struct shape *sh) {
  struct msg m = {.mtype = 1};
  if (sh->call == C_MSGRCV)
    return SYS(msgrcv(c->msqid, &m, sizeof m.text, 0, 0));
  return SYS(msgsnd(c->msqid, &m, sizeof m.text, 0));
}

static void complete_msg(struct cell *c, const struct shape *sh) {
  struct msg m = {.mtype = 1};
  if (sh->call == C_MSGRCV) {
    msgsnd(c->msqid, &m, 1, IPC_NOWAIT);
    return;
  }
  long long end = now_ms() + 500;
  do {
    while (msgrcv(c->msqid, &m, sizeof m.text, 0, IPC_NOWAIT) >= 0) {
    }
    if (atomic_load(&c->run->done))
      break;
    sleep_ms(2);
  } while (now_ms() < end);
}

static int setup_sem(struct cell *c, const struct shape *sh, char *err) {
  (void)sh;
  c->semid = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
  if (c->semid < 0)
    return fail(err, "semget");
  if (semctl(c->semid, 0, SETVAL, 0) < 0)
    return fail(err, "semctl SETVAL");
  return 0;
}

static long op_sem(struct cell *c, const struct shape *sh) {
  struct sembuf sb = {0, -1, 0};
  if (sh->call == C_SEMOP)
    return SYS(semop(c->semid, &sb, 1));
  struct timespec ts = {TIMEOUT_S, 0};
  return SYS(semtimedop(c->semid, &sb, 1, &ts));
}

static void complete_sem(struct cell *c, const struct shape *sh) {
  (void)sh;
  struct sembuf sb = {0, 1, 0};
  semop(c->semid, &sb, 1);
}

// -------------------------------------------------------------- shape table

#define RECV6(tr, tname)                                                     \
  {"read/" tname, setup_recv, op_recv, complete_send1, tr, C_READ},          \
      {"readv/" tname, setup_recv, op_recv, complete_send1, tr, C_READV},    \
      {"recvfrom/" tname, setup_recv, op_recv, complete_send1, tr,           \
       C_RECVFROM},                                                          \
      {"recvfrom/" tname "/peek-trunc", setup_recv, op_recv, complete_send1, \
       tr, C_PEEKTRUNC},                                                     \
      {"recvmsg/" tname, setup_recv, op_recv, complete_send1, tr, C_RECVMSG}, \
      {"recvmmsg/" tname, setup_recv, op_recv, complete_send1, tr, C_RECVMMSG}

// Native notes (Linux 6.18, the oracle):
//  - recvfrom/tcp/peek-trunc asks for 0 bytes: tcp_recvmsg sleeps once and
//    returns 0 when the signal wakes it, so even "norestart" gives "ok".
//  - connect/unix-stream/backlog-full blocks on Linux; gVisor returns EAGAIN
//    at once (a setup difference, not a signal one: returned_before_signal).
static const struct shape shapes[] = {
    {"read/pipe", setup_recv, op_recv, complete_send1, T_PIPE, C_READ},
    RECV6(T_USTREAM, "unix-stream"),
    RECV6(T_USEQ, "unix-seqpacket"),
    RECV6(T_UDGRAM, "unix-dgram"),
    RECV6(T_TCP, "tcp"),
    RECV6(T_UDP, "udp"),

    {"write/pipe/full", setup_full, op_write, complete_drain, T_PIPE,
     C_WRITE},
    {"write/unix-stream/full", setup_full, op_write, complete_drain,
     T_USTREAM, C_WRITE},
    {"sendmsg/unix-stream/full", setup_full, op_write, complete_drain,
     T_USTREAM, C_SENDMSG},
    {"sendmsg/unix-dgram/full", setup_full, op_write, complete_drain,
     T_UDGRAM, C_SENDMSG},
    {"write/tcp/full", setup_full, op_write, complete_drain, T_TCP, C_WRITE},
    {"write/unix-stream/256k", setup_full_big, op_write, complete_drain,
     T_USTREAM, C_WRITE_BIG},
    {"write/unix-stream/256k-partial", setup_big, op_write, complete_drain,
     T_USTREAM, C_WRITE_BIG},
    {"sendto/unix-dgram/bound-full", setup_dgram_bound_full, op_write,
     complete_drain, T_UDGRAM, C_SENDTO},

    {"accept/unix-stream", setup_accept, op_accept, complete_connect,
     T_USTREAM, C_ACCEPT},
    {"accept4/unix-stream", setup_accept, op_accept, complete_connect,
     T_USTREAM, C_ACCEPT4},
    {"accept/tcp", setup_accept, op_accept, complete_connect, T_TCP,
     C_ACCEPT},
    {"accept4/tcp", setup_accept, op_accept, complete_connect, T_TCP,
     C_ACCEPT4},
    {"connect/unix-stream/backlog-full", setup_connect_full, op_connect,
     complete_accept_all, T_USTREAM, 0},

    {"wait4/child", setup_child, op_wait, complete_kill_child, T_NONE,
     C_WAIT4},
    {"waitid/child", setup_child, op_wait, complete_kill_child, T_NONE,
     C_WAITID},

    {"flock/ex", setup_lock, op_lock, complete_unlock, L_FLOCK, 0},
    {"fcntl-setlkw/child", setup_lock, op_lock, complete_unlock,
     L_POSIX_CHILD, 0},
    {"fcntl-ofd-setlkw", setup_lock, op_lock, complete_unlock, L_OFD, 0},

    {"futex-wait", setup_futex, op_futex, complete_futex, T_NONE, C_FUTEX},
    {"futex-wait/timeout", setup_futex, op_futex, complete_futex, T_NONE,
     C_FUTEX_TIMEOUT},
    {"futex-wait-bitset/abs-timeout", setup_futex, op_futex, complete_futex,
     T_NONE, C_FUTEX_BITSET_ABS},
    {"futex-lock-pi", setup_futex_pi, op_futex, complete_futex_pi, T_NONE,
     C_FUTEX_LOCK_PI},

    {"open/fifo-rdonly", setup_fifo, op_open_fifo, complete_open_fifo,
     T_NONE, C_RDONLY},
    {"open/fifo-wronly", setup_fifo, op_open_fifo, complete_open_fifo,
     T_NONE, C_WRONLY},
    {"open/host-fifo-rdonly", setup_host_fifo, op_open_fifo,
     complete_open_fifo, T_NONE, C_RDONLY},
    {"open/host-fifo-wronly", setup_host_fifo, op_open_fifo,
     complete_open_fifo, T_NONE, C_WRONLY},

    {"epoll_wait/pipe", setup_mux, op_mux, complete_send1, T_PIPE, C_EPOLL},
    {"poll/pipe", setup_mux, op_mux, complete_send1, T_PIPE, C_POLL},
    {"select/pipe", setup_mux, op_mux, complete_send1, T_PIPE, C_SELECT},
    {"pselect/pipe", setup_mux, op_mux, complete_send1, T_PIPE, C_PSELECT},
    {"ppoll/pipe", setup_mux, op_mux, complete_send1, T_PIPE, C_PPOLL},

    {"nanosleep", NULL, op_sleep, NULL, T_NONE, C_NANOSLEEP},
    {"clock_nanosleep/rel", NULL, op_sleep, NULL, T_NONE, C_CLOCK_REL},
    {"clock_nanosleep/abs", NULL, op_sleep, NULL, T_NONE, C_CLOCK_ABS},

    {"sigsuspend", NULL, op_sigwait, complete_usr2, T_NONE, C_SIGSUSPEND},
    {"pause", NULL, op_sigwait, complete_usr2, T_NONE, C_PAUSE},

    {"recv/unix-stream/rcvtimeo", setup_rcvtimeo, op_recv, complete_send1,
     T_USTREAM, C_RECV},
    {"read/unix-stream/rcvtimeo", setup_rcvtimeo, op_recv, complete_send1,
     T_USTREAM, C_READ},
    {"recv/unix-dgram/rcvtimeo", setup_rcvtimeo, op_recv, complete_send1,
     T_UDGRAM, C_RECV},
    {"recv/tcp/rcvtimeo", setup_rcvtimeo, op_recv, complete_send1, T_TCP,
     C_RECV},
    {"recv/udp/rcvtimeo", setup_rcvtimeo, op_recv, complete_send1, T_UDP,
     C_RECV},
    {"send/unix-stream/sndtimeo", setup_sndtimeo, op_write, complete_drain,
     T_USTREAM, C_SEND},
    {"recv/unix-stream/rcvtimeo-300ms-storm", setup_rcvtimeo_storm, op_recv,
     NULL, T_USTREAM, C_RECV, 100},

    {"msgrcv", setup_msg, op_msg, complete_msg, T_NONE, C_MSGRCV},
    {"msgsnd/full", setup_msg, op_msg, complete_msg, T_NONE, C_MSGSND},
    {"semop", setup_sem, op_sem, complete_sem, T_NONE, C_SEMOP},
    {"semtimedop/timeout", setup_sem, op_sem, complete_sem, T_NONE,
     C_SEMTIMEDOP},

    {"read/signalfd/other-thread", setup_signalfd, op_signalfd,
     complete_signalfd, T_NONE, C_READ},
    {"mq_timedreceive/empty", setup_mq, op_mq, complete_mq, T_NONE,
     C_MQ_RECEIVE},
    {"mq_timedsend/full", setup_mq, op_mq, complete_mq, T_NONE, C_MQ_SEND},
    {"mq_timedreceive/timeout", setup_mq, op_mq, complete_mq, T_NONE,
     C_MQ_TIMEDRECEIVE},
    {"mq_notify/thread-writes-pipe", setup_mq_notify, op_recv,
     complete_mq_notify, T_PIPE, C_READ},
};

#define NSHAPES ((int)(sizeof shapes / sizeof shapes[0]))

// shape_selected says whether shape i runs: it matches -filter, and a
// host-fifo shape only runs when MATRIX_HOST_FIFO names its FIFO.
static int shape_selected(int i, const char *filter) {
  if (filter && !strstr(shapes[i].name, filter))
    return 0;
  return shapes[i].setup != setup_host_fifo || hostfifo != NULL;
}

// ------------------------------------------------------------------ results

struct outcome {
  const char *shape;
  const char *disp;
  char result[32];
  int handler_ran;
  long long elapsed_ms;
  int before_signal;
  int before_complete;
  int forced;
  long long cell_ms;
  long long storm_return_ms; // storm shapes: first signal to return, or -1
  char note[256];
};

static struct outcome *outs;
static int nouts;
static pthread_mutex_t outs_mu = PTHREAD_MUTEX_INITIALIZER;
static const char *current_cell = "";

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      fprintf(f, "\\%c", ch);
    else if (ch < 0x20)
      fprintf(f, "\\u%04x", ch);
    else
      fputc(ch, f);
  }
  fputc('"', f);
}

static void print_report(FILE *f) {
  fprintf(f, "{\n  \"program\": \"matrix\",\n  \"cases\": [");
  for (int i = 0; i < nouts; i++) {
    struct outcome *o = &outs[i];
    fprintf(f, "%s\n    {\"shape\": ", i ? "," : "");
    json_str(f, o->shape);
    fprintf(f, ", \"disposition\": ");
    json_str(f, o->disp);
    fprintf(f, ", \"observed\": {\"result\": ");
    json_str(f, o->result);
    fprintf(f, ", \"handler_ran\": %s}", o->handler_ran ? "true" : "false");
    fprintf(f,
            ", \"counters\": {\"elapsed_ms\": %lld, "
            "\"returned_before_signal\": %d, \"returned_before_complete\": "
            "%d, \"forced_unblock\": %d, \"cell_ms\": %lld",
            o->elapsed_ms, o->before_signal, o->before_complete, o->forced,
            o->cell_ms);
    if (o->storm_return_ms >= 0)
      fprintf(f, ", \"storm_return_ms\": %lld", o->storm_return_ms);
    fprintf(f, "}");
    if (o->note[0]) {
      fprintf(f, ", \"note\": ");
      json_str(f, o->note);
    }
    fprintf(f, "}");
  }
  fprintf(f, "\n  ]\n}\n");
  fflush(f);
}

static void notef(struct outcome *o, const char *fmt, ...) {
  size_t n = strlen(o->note);
  if (n && n < sizeof o->note - 2) {
    o->note[n++] = ';';
    o->note[n++] = ' ';
    o->note[n] = 0;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(o->note + n, sizeof o->note - n, fmt, ap);
  va_end(ap);
}

// ------------------------------------------------------------------- runner

static void *blocker(void *arg) {
  struct run *r = arg;
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGUSR2);
  pthread_sigmask(SIG_UNBLOCK, &s, NULL);
  sigemptyset(&s);
  sigaddset(&s, SIGUSR1);
  pthread_sigmask(r->disp == D_BLOCK ? SIG_BLOCK : SIG_UNBLOCK, &s, NULL);
  atomic_store(&r->tid, (int)gettid());
  r->t0 = now_ms();
  atomic_store(&r->started, 1);
  long rv = r->sh->op(&r->c, r->sh);
  r->t1 = now_ms();
  r->rv = rv;
  atomic_store(&r->done, 1);
  return NULL;
}

// stat_state returns the state letter in the stat file at path p, or 0.
static char stat_state(const char *p) {
  char buf[512];
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0)
    return 0;
  buf[n] = 0;
  char *rp = strrchr(buf, ')');
  if (!rp || rp[1] != ' ')
    return 0;
  return rp[2];
}

// thread_state returns the state letter of thread tid, or 0.
static char thread_state(int tid) {
  char p[64];
  snprintf(p, sizeof p, "/proc/self/task/%d/stat", tid);
  return stat_state(p);
}

// stop_and_continue is the "stop" disposition's signal: a helper child
// stops this whole process with SIGSTOP, waits until thread tid is seen
// stopped ('T' or 't') and continues the process with SIGCONT.  It returns
// 1 if the thread was seen stopped, 0 if SIGCONT was sent after a timeout
// instead, -1 if there is no helper.  The helper is a clone child without
// an exit signal, so that no wait of a shape sees it.
static int stop_and_continue(int tid) {
  pid_t self = getpid();
  char p[64];
  snprintf(p, sizeof p, "/proc/%d/task/%d/stat", (int)self, tid);
  long h = syscall(SYS_clone, 0L, NULL, NULL, NULL, NULL);
  if (h < 0)
    return -1;
  if (h == 0) {
    int seen = 0;
    kill(self, SIGSTOP);
    long long end = now_ms() + ASLEEP_TIMEOUT_MS;
    while (now_ms() < end) {
      char st = stat_state(p);
      if (st == 'T' || st == 't') {
        seen = 1;
        break;
      }
      sleep_us(200);
    }
    sleep_ms(20);
    kill(self, SIGCONT);
    _exit(seen ? 0 : 1);
  }
  int st = 0;
  while (waitpid((pid_t)h, &st, __WALL) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

// wait_asleep returns 1 once the thread was seen sleeping ('S' or 'D') on
// three consecutive polls, 0 if the call returned first, -1 on timeout.
static int wait_asleep(struct run *r, int timeout_ms) {
  long long end = now_ms() + timeout_ms;
  int seen = 0;
  for (;;) {
    if (atomic_load(&r->done))
      return 0;
    char st = thread_state(atomic_load(&r->tid));
    if (st == 'S' || st == 'D') {
      if (++seen >= 3)
        return 1;
    } else {
      seen = 0;
    }
    if (now_ms() > end)
      return -1;
    sleep_us(200);
  }
}

static int wait_done(struct run *r, int timeout_ms) {
  long long end = now_ms() + timeout_ms;
  while (!atomic_load(&r->done)) {
    if (now_ms() > end)
      return 0;
    sleep_us(500);
  }
  return 1;
}

static void run_cell(const struct shape *sh, int disp, struct outcome *o) {
  // A run is freed only after its thread is joined: a thread that cannot
  // be unblocked keeps its run (and its cell's fds) forever.
  struct run *r = calloc(1, sizeof *r);
  struct cell *c = &r->c;
  cell_init(c);
  c->run = r;
  r->sh = sh;
  r->disp = disp;
  memset(o, 0, sizeof *o);
  o->shape = sh->name;
  o->disp = disp_names[disp];
  o->storm_return_ms = -1;

  set_usr1(disp);
  usr1_hits = 0;
  usr2_hits = 0;

  char err[200] = "";
  if (sh->setup && sh->setup(c, sh, err) < 0) {
    snprintf(o->result, sizeof o->result, "setup-failed");
    notef(o, "%s", err);
    teardown(c);
    free(r);
    return;
  }
  pthread_t th;
  if (pthread_create(&th, NULL, blocker, r) != 0) {
    snprintf(o->result, sizeof o->result, "setup-failed");
    notef(o, "pthread_create failed");
    teardown(c);
    free(r);
    return;
  }
  while (!atomic_load(&r->started))
    sleep_us(100);

  int asleep = wait_asleep(r, ASLEEP_TIMEOUT_MS);
  long long storm_t0 = -1;
  if (asleep == 1 && disp == D_STOP) {
    // Stop and continue the process; storm shapes too get it only once.
    int stopped = stop_and_continue(atomic_load(&r->tid));
    if (stopped < 0)
      notef(o, "could not start the stop helper");
    else if (!stopped)
      notef(o, "thread not seen stopped within %d ms", ASLEEP_TIMEOUT_MS);
    sleep_ms(settle_ms);
    if (wait_asleep(r, ASLEEP_TIMEOUT_MS) < 0)
      notef(o, "thread not asleep again after SIGCONT");
  } else if (asleep == 1 && sh->storm_ms) {
    // Storm: SIGUSR1 every storm_ms until the call returns (see
    // STORM_SIGNALS); the call is not completed.
    int sent = 0;
    storm_t0 = now_ms();
    while (!atomic_load(&r->done) && sent < STORM_SIGNALS) {
      syscall(SYS_tgkill, getpid(), atomic_load(&r->tid), SIGUSR1);
      sent++;
      wait_done(r, sh->storm_ms);
    }
    notef(o, "storm: %d signal(s) sent", sent);
  } else if (asleep == 1) {
    syscall(SYS_tgkill, getpid(), atomic_load(&r->tid), SIGUSR1);
    // With a handler, wait until it has run: by then the call has either
    // failed or been restarted, whatever the scheduling delay.
    if (disp == D_RESTART || disp == D_NORESTART) {
      long long end = now_ms() + HANDLER_WAIT_MS;
      while (!usr1_hits && now_ms() < end)
        sleep_us(200);
      if (!usr1_hits)
        notef(o, "handler did not run within %d ms", HANDLER_WAIT_MS);
    }
    sleep_ms(settle_ms);
    // A call that is still running must be asleep again (restarted, or
    // never woken) before it is completed.
    if (wait_asleep(r, ASLEEP_TIMEOUT_MS) < 0)
      notef(o, "thread not asleep again after the signal");
  } else if (asleep == 0) {
    o->before_signal = 1;
    notef(o, "returned before the signal was sent");
    sleep_ms(settle_ms);
  } else {
    notef(o, "thread never seen asleep; no signal sent");
    sleep_ms(settle_ms);
  }
  o->before_complete = atomic_load(&r->done);
  if (sh->complete)
    sh->complete(c, sh);

  int hang = 0;
  if (!wait_done(r, DEADLINE_MS)) {
    hang = 1;
    o->forced = 1;
    // Forced unblock: complete again, then SIGUSR2 (handler without
    // SA_RESTART, never masked in the blocking thread) until it returns.
    if (sh->complete)
      sh->complete(c, sh);
    long long end = now_ms() + FORCE_MS;
    while (!atomic_load(&r->done) && now_ms() < end) {
      syscall(SYS_tgkill, getpid(), atomic_load(&r->tid), SIGUSR2);
      wait_done(r, 20);
    }
  }
  if (!atomic_load(&r->done)) {
    snprintf(o->result, sizeof o->result, "hang");
    notef(o, "could not unblock the thread; leaked it");
    o->handler_ran = usr1_hits > 0;
    o->elapsed_ms = now_ms() - r->t0;
    pthread_detach(th);
    return;
  }
  pthread_join(th, NULL);
  o->elapsed_ms = r->t1 - r->t0;
  if (storm_t0 >= 0)
    o->storm_return_ms = r->t1 - storm_t0;
  o->handler_ran = usr1_hits > 0;
  if (hang) {
    snprintf(o->result, sizeof o->result, "hang");
    notef(o, "after forced unblock returned %s",
          r->rv >= 0 ? "ok" : (strerrorname_np((int)-r->rv) ?: "?"));
  } else if (r->rv >= 0 && c->want && r->rv != c->want) {
    snprintf(o->result, sizeof o->result, "short");
    notef(o, "wrote %ld of %ld bytes", r->rv, c->want);
  } else if (r->rv >= 0) {
    snprintf(o->result, sizeof o->result, "ok");
  } else {
    const char *n = strerrorname_np((int)-r->rv);
    if (n)
      snprintf(o->result, sizeof o->result, "%s", n);
    else
      snprintf(o->result, sizeof o->result, "E%ld", -r->rv);
  }
  teardown(c);
  free(r);
  set_usr1(D_IGNORE);
}

static void *watchdog(void *arg) {
  (void)arg;
  sleep_ms((long)watchdog_s * 1000);
  pthread_mutex_lock(&outs_mu);
  fprintf(stderr, "matrix: watchdog after %d s in cell %s; partial report\n",
          watchdog_s, current_cell);
  print_report(stdout);
  _exit(3);
  return NULL;
}

// count_fds returns the number of open file descriptors of this process.
static int count_fds(void) {
  int fd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  char buf[4096];
  int n = 0;
  long got;
  while ((got = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
    for (long off = 0; off < got;) {
      unsigned short reclen = *(unsigned short *)(buf + off + 16);
      const char *name = buf + off + 19;
      if (name[0] != '.')
        n++;
      off += reclen;
    }
  }
  close(fd);
  return n - 1; // the directory itself
}

static void usage(void) {
  fprintf(stderr, "usage: matrix [-list] [-filter SUBSTRING] "
                  "[-disp NAME[,NAME...]] [-settle MS] [-watchdog SECONDS]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *filter = NULL;
  const char *displist = NULL;
  int list = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] == '-' && a[1] == '-')
      a++;
    if (!strcmp(a, "-list"))
      list = 1;
    else if (!strcmp(a, "-filter") && i + 1 < argc)
      filter = argv[++i];
    else if (!strcmp(a, "-disp") && i + 1 < argc)
      displist = argv[++i];
    else if (!strcmp(a, "-settle") && i + 1 < argc)
      settle_ms = atoi(argv[++i]);
    else if (!strcmp(a, "-watchdog") && i + 1 < argc)
      watchdog_s = atoi(argv[++i]);
    else
      usage();
  }
  hostfifo = getenv("MATRIX_HOST_FIFO");
  if (hostfifo && !*hostfifo)
    hostfifo = NULL;
  if (list) {
    for (int i = 0; i < NSHAPES; i++)
      if (shape_selected(i, filter))
        printf("%s\n", shapes[i].name);
    return 0;
  }
  if (getpid() == 1) {
    // Init ignores SIGSTOP sent from inside its PID namespace, so the
    // "stop" disposition needs the matrix in another process: run it in a
    // child, reap every process (orphans come here) until it exits, and
    // exit with its status.
    pid_t child = fork();
    if (child < 0) {
      perror("fork");
      return 1;
    }
    if (child > 0) {
      int st = 0;
      for (;;) {
        pid_t w = waitpid(-1, &st, 0);
        if (w == child)
          break;
        if (w < 0 && errno != EINTR) {
          perror("waitpid");
          return 1;
        }
      }
      return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
  }
  int use[D_COUNT];
  for (int d = 0; d < D_COUNT; d++) {
    if (!displist) {
      use[d] = 1;
      continue;
    }
    use[d] = 0;
    const char *p = displist;
    size_t n = strlen(disp_names[d]);
    while (p && *p) {
      if (!strncmp(p, disp_names[d], n) && (p[n] == ',' || p[n] == 0))
        use[d] = 1;
      p = strchr(p, ',');
      if (p)
        p++;
    }
  }

  // The main thread never takes SIGUSR1 or SIGUSR2; threads inherit this
  // mask and the blocking thread sets its own.  No thread takes SIGFD_SIG.
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGUSR1);
  sigaddset(&s, SIGUSR2);
  sigaddset(&s, SIGFD_SIG); // only ever read through a signalfd
  pthread_sigmask(SIG_BLOCK, &s, NULL);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr2;
  sigaction(SIGUSR2, &sa, NULL);
  sa.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &sa, NULL);
  set_usr1(D_IGNORE);

  snprintf(tmpdir, sizeof tmpdir, "/tmp/matrix.XXXXXX");
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }

  outs = calloc((size_t)NSHAPES * D_COUNT, sizeof *outs);
  pthread_t wd;
  pthread_create(&wd, NULL, watchdog, NULL);

  for (int i = 0; i < NSHAPES; i++)
    if (shapes[i].setup == setup_mq_notify && shape_selected(i, filter))
      prime_mq_notify();
  int fds_before = count_fds();
  long long start = now_ms();
  for (int i = 0; i < NSHAPES; i++) {
    if (!shape_selected(i, filter))
      continue;
    for (int d = 0; d < D_COUNT; d++) {
      if (!use[d])
        continue;
      struct outcome o;
      current_cell = shapes[i].name;
      long long t = now_ms();
      run_cell(&shapes[i], d, &o);
      o.cell_ms = now_ms() - t;
      pthread_mutex_lock(&outs_mu);
      outs[nouts++] = o;
      pthread_mutex_unlock(&outs_mu);
    }
  }
  long long took = now_ms() - start;
  // Every cell must release what it made: fds, children, files.
  int leaks = 0;
  int fds_after = count_fds();
  if (fds_after != fds_before) {
    fprintf(stderr, "matrix: leak: %d fds open before, %d after\n",
            fds_before, fds_after);
    leaks++;
  }
  if (waitpid(-1, NULL, WNOHANG) >= 0 || errno != ECHILD) {
    fprintf(stderr, "matrix: leak: a child process is left\n");
    leaks++;
  }
  if (rmdir(tmpdir) < 0) {
    fprintf(stderr, "matrix: leak: rmdir %s: %s\n", tmpdir,
            strerrorname_np(errno) ?: "?");
    leaks++;
  }
  pthread_mutex_lock(&outs_mu);
  print_report(stdout);
  fprintf(stderr, "matrix: %d cells in %lld ms\n", nouts, took);
  return leaks ? 4 : 0;
}
