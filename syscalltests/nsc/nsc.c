//go:build ignore

// The constraint above keeps the go tool from treating this C file as part
// of the Go package in this directory; cc ignores it.

// nsc: PID-1 signal and per-thread mount namespace cases, C side.
//
// Part 1 (shapes pid1/c/SIG): a subject process with every signal at
// SIG_DFL receives SIGTERM, SIGINT, SIGHUP or SIGKILL. Dispositions:
//   from-inside     the subject is PID 1 of a new PID namespace; a process
//                   it forked (inside that namespace) sends kill(1, SIG)
//   from-parent-ns  the subject is PID 1 of a new PID namespace; this
//                   program (in the parent namespace) sends kill(pid, SIG)
//   not-init        control: the subject is an ordinary process (no new
//                   PID namespace); this program sends kill(pid, SIG)
// Result: "survived" (alive 2 s after the signal was sent), or the wait
// status: "signaled:SIGTERM", "exited:N".
//
// Part 2 (shapes mntns/c/OBSERVER, disposition pthread): RUNS times, a fresh
// process (fork of this one) starts a thread that does unshare(CLONE_NEWNS),
// makes / rprivate, bind-mounts SRC (holding a marker) on DST, and then:
//   self          the unsharing thread stats DST/marker
//   other-thread  the main thread stats DST/marker
//   child         a process forked by the unsharing thread stats it
//   after-setns   the unsharing thread, after setns() back to the original
//                 mount namespace, stats it
//   parent-ns     this program (never unshared) stats it after the run
// Result: "visible" or "hidden" when all runs agree, "mixed" otherwise,
// "error" when a call failed; counters visible, hidden, errors, runs.
//
// Usage: nsc [-runs N] [-part pid1|mntns|all]
// Prints one guestio.Report (program "nsc") on stdout.
//
// nsc -wait sets every signal to SIG_DFL and sleeps until a signal ends it:
// the subject of the from-the-host check in README.md.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int first_case = 1;

static void json_str(const char *s) {
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

// emit prints one case; counters is "k1",v1,... terminated by NULL.
static void emit(const char *shape, const char *disp, const char *result, const char *note, ...) {
	va_list ap;
	printf("%s\n    {\"shape\": ", first_case ? "" : ",");
	first_case = 0;
	json_str(shape);
	printf(", \"disposition\": ");
	json_str(disp);
	printf(", \"observed\": {\"result\": ");
	json_str(result);
	printf(", \"handler_ran\": false}, \"counters\": {");
	va_start(ap, note);
	const char *k;
	int n = 0;
	while ((k = va_arg(ap, const char *)) != NULL) {
		long long v = va_arg(ap, long long);
		printf("%s\"%s\": %lld", n++ ? ", " : "", k, v);
	}
	va_end(ap);
	printf("}");
	if (note && *note) {
		printf(", \"note\": ");
		json_str(note);
	}
	printf("}");
	fflush(stdout);
}

static long long now_ms(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static const char *signame(int sig) {
	switch (sig) {
	case SIGTERM: return "SIGTERM";
	case SIGINT: return "SIGINT";
	case SIGHUP: return "SIGHUP";
	case SIGKILL: return "SIGKILL";
	}
	static char buf[16];
	snprintf(buf, sizeof buf, "SIG%d", sig);
	return buf;
}

static void status_str(int st, char *buf, size_t n) {
	if (WIFEXITED(st))
		snprintf(buf, n, "exited:%d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, n, "signaled:%s", signame(WTERMSIG(st)));
	else
		snprintf(buf, n, "status:%#x", st);
}

static void all_default(void) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	for (int s = 1; s < 32; s++)
		if (s != SIGKILL && s != SIGSTOP)
			sigaction(s, &sa, NULL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

// waitdeadline waits for pid up to ms; returns 1 and sets *st if it ended.
static int waitdeadline(pid_t pid, int ms, int *st) {
	long long end = now_ms() + ms;
	for (;;) {
		pid_t r = waitpid(pid, st, WNOHANG);
		if (r == pid)
			return 1;
		if (r < 0 && errno != EINTR)
			return -1;
		if (now_ms() >= end)
			return 0;
		usleep(2000);
	}
}

// pid1case runs one PID-1 cell.
static void pid1case(int sig, const char *disp) {
	int newns = strcmp(disp, "not-init") != 0;
	int inside = strcmp(disp, "from-inside") == 0;
	int ready[2], sent[2];
	char shape[64], note[256] = "", res[64];
	snprintf(shape, sizeof shape, "pid1/c/%s", signame(sig));
	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(sent, O_CLOEXEC) < 0) {
		emit(shape, disp, "error", strerror(errno), NULL);
		return;
	}
	pid_t pid = (pid_t)syscall(SYS_clone, (newns ? CLONE_NEWPID : 0) | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid < 0) {
		snprintf(note, sizeof note, "clone: %s", strerror(errno));
		emit(shape, disp, "error", note, NULL);
		close(ready[0]), close(ready[1]), close(sent[0]), close(sent[1]);
		return;
	}
	if (pid == 0) {
		all_default();
		close(ready[0]);
		close(sent[0]);
		char me = (char)(getpid() == 1 ? '1' : 'n');
		if (inside) {
			pid_t k = fork();
			if (k == 0) {
				// 's' before the kill: if the kill takes down the
				// namespace's init, this process goes with it.
				(void)!write(sent[1], "s", 1);
				char ok = kill(1, sig) == 0 ? 'k' : 'e';
				(void)!write(sent[1], &ok, 1);
				_exit(0);
			}
		}
		(void)!write(ready[1], &me, 1);
		close(ready[1]);
		close(sent[1]);
		for (;;)
			pause();
	}
	close(ready[1]);
	close(sent[1]);
	char me = 0, ok = 0;
	if (read(ready[0], &me, 1) != 1)
		snprintf(note, sizeof note, "subject sent no ready byte");
	if (newns && me != '1')
		snprintf(note, sizeof note, "subject is not PID 1 of its namespace (%c)", me);
	long long t0 = now_ms();
	if (inside) {
		char s = 0;
		ssize_t n = read(sent[0], &s, 1);
		if (n == 1 && s == 's')
			n = read(sent[0], &ok, 1);
		if (s != 's' || (n == 1 && ok != 'k'))
			snprintf(note + strlen(note), sizeof note - strlen(note), "; in-namespace kill(1) failed (%c%c)", s ? s : '-', ok ? ok : '-');
		else if (n != 1)
			snprintf(note + strlen(note), sizeof note - strlen(note), "; the sender died with its namespace before it could say kill(1) returned");
	} else if (kill(pid, sig) < 0) {
		snprintf(note + strlen(note), sizeof note - strlen(note), "; kill: %s", strerror(errno));
	}
	close(ready[0]);
	close(sent[0]);
	int st = 0;
	int r = waitdeadline(pid, 2000, &st);
	long long ms = now_ms() - t0;
	if (r == 1) {
		status_str(st, res, sizeof res);
	} else {
		snprintf(res, sizeof res, "survived");
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	if (note[0] == ';')
		memmove(note, note + 2, strlen(note + 2) + 1);
	int bad = strncmp(note, "subject", 7) == 0 || strstr(note, "failed") != NULL || strstr(note, "kill:") != NULL;
	emit(shape, disp, note[0] && bad ? "error" : res, note,
	     "wait_ms", (long long)(r == 1 ? ms : -1), NULL);
}

/* Part 2 */

static char base[256];

enum { OBS_SELF, OBS_THREAD, OBS_CHILD, OBS_SETNS, OBS_PARENT, NOBS };
static const char *obsname[NOBS] = {"self", "other-thread", "child", "after-setns", "parent-ns"};

// Bits in the trial's exit status: for each observer of the trial process
// (self, other-thread, child, after-setns) bit 2i = visible, bit 2i+1 =
// error; bit 7 = setup error.
static char marker[300];
static char dst[300];
static char src[300];
static int trial_bits;

static int probe(void) {
	struct stat st;
	if (stat(marker, &st) == 0)
		return 1;
	return errno == ENOENT ? 0 : -1;
}

static void record(int obs, int v) {
	if (v < 0)
		trial_bits |= 2 << (2 * obs);
	else if (v > 0)
		trial_bits |= 1 << (2 * obs);
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int stage;

static void set_stage(int s) {
	pthread_mutex_lock(&mu);
	stage = s;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static void wait_stage(int s) {
	pthread_mutex_lock(&mu);
	while (stage < s)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
}

static int errpipe = -1;

// setup_failed tells the parent (through errpipe) which step failed.
static void *setup_failed(const char *step) {
	char buf[128];
	int n = snprintf(buf, sizeof buf, "%s: %s", step, strerror(errno));
	(void)!write(errpipe, buf, (size_t)n);
	trial_bits |= 1 << 7;
	set_stage(3);
	return NULL;
}

static void *unsharer(void *arg) {
	(void)arg;
	int orig = open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (orig < 0)
		return setup_failed("open /proc/thread-self/ns/mnt");
	if (unshare(CLONE_NEWNS) < 0)
		return setup_failed("unshare(CLONE_NEWNS)");
	if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return setup_failed("mount / rprivate");
	if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
		return setup_failed("bind mount");
	record(OBS_SELF, probe());
	set_stage(1); // the main thread looks now
	wait_stage(2);
	pid_t c = fork();
	if (c == 0)
		_exit(probe() + 1); // 0 error, 1 hidden, 2 visible
	int st;
	if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) == 0)
		record(OBS_CHILD, -1);
	else
		record(OBS_CHILD, WEXITSTATUS(st) - 1);
	if (setns(orig, CLONE_NEWNS) < 0)
		record(OBS_SETNS, -1);
	else
		record(OBS_SETNS, probe());
	close(orig);
	set_stage(3);
	return NULL;
}

// trial runs in a fresh process and returns its bits as the exit status.
static int trial(void) {
	pthread_t th;
	trial_bits = 0;
	if (pthread_create(&th, NULL, unsharer, NULL) != 0)
		return 1 << 7;
	pthread_mutex_lock(&mu);
	while (stage < 1 && stage != 3)
		pthread_cond_wait(&cv, &mu);
	int failed = stage == 3;
	pthread_mutex_unlock(&mu);
	if (!failed) {
		record(OBS_THREAD, probe());
		set_stage(2);
	}
	pthread_join(th, NULL);
	return trial_bits;
}

static int mkfile(const char *path) {
	int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	return close(fd);
}

static void mntns_part(int runs) {
	long long vis[NOBS] = {0}, hid[NOBS] = {0}, errs[NOBS] = {0}, setup = 0;
	char note[256] = "";
	snprintf(base, sizeof base, "/tmp/nsc-XXXXXX");
	if (!mkdtemp(base)) {
		snprintf(note, sizeof note, "mkdtemp: %s", strerror(errno));
		for (int o = 0; o < NOBS; o++) {
			char shape[64];
			snprintf(shape, sizeof shape, "mntns/c/%s", obsname[o]);
			emit(shape, "pthread", "error", note, NULL);
		}
		return;
	}
	snprintf(src, sizeof src, "%s/src", base);
	snprintf(dst, sizeof dst, "%s/dst", base);
	snprintf(marker, sizeof marker, "%s/dst/marker", base);
	char srcmarker[300];
	snprintf(srcmarker, sizeof srcmarker, "%s/src/marker", base);
	if (mkdir(src, 0755) < 0 || mkdir(dst, 0755) < 0 || mkfile(srcmarker) < 0) {
		snprintf(note, sizeof note, "setup: %s", strerror(errno));
		setup = runs;
		runs = 0;
	}
	int ep[2];
	if (runs > 0 && pipe2(ep, O_CLOEXEC | O_NONBLOCK) == 0)
		errpipe = ep[1];
	for (int i = 0; i < runs; i++) {
		pid_t p = fork();
		if (p == 0)
			_exit(trial());
		int st;
		if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st)) {
			setup++;
			continue;
		}
		int bits = WEXITSTATUS(st);
		if (bits & (1 << 7)) {
			char buf[128];
			ssize_t n = errpipe >= 0 ? read(ep[0], buf, sizeof buf - 1) : -1;
			if (n > 0 && !note[0]) {
				buf[n] = 0;
				snprintf(note, sizeof note, "run %d: %s", i, buf);
			}
			setup++;
			continue;
		}
		for (int o = 0; o < OBS_PARENT; o++) {
			if (bits & (2 << (2 * o)))
				errs[o]++;
			else if (bits & (1 << (2 * o)))
				vis[o]++;
			else
				hid[o]++;
		}
		int v = probe();
		if (v < 0)
			errs[OBS_PARENT]++;
		else if (v > 0) {
			vis[OBS_PARENT]++;
			umount2(dst, MNT_DETACH);
		} else
			hid[OBS_PARENT]++;
	}
	if (errpipe >= 0) {
		close(ep[0]);
		close(ep[1]);
	}
	unlink(srcmarker);
	rmdir(src);
	rmdir(dst);
	rmdir(base);
	if (setup) {
		char first[200];
		snprintf(first, sizeof first, "%.199s", note);
		snprintf(note, sizeof note, "%lld run(s) failed to set up; first: %s", setup, first[0] ? first : "fork or wait failed");
	}
	for (int o = 0; o < NOBS; o++) {
		char shape[64];
		snprintf(shape, sizeof shape, "mntns/c/%s", obsname[o]);
		const char *res = "mixed";
		if (setup || errs[o])
			res = "error";
		else if (vis[o] == runs)
			res = "visible";
		else if (hid[o] == runs)
			res = "hidden";
		emit(shape, "pthread", res, note, "runs", (long long)runs, "visible", vis[o], "hidden", hid[o],
		     "errors", errs[o], "setup_errors", setup, NULL);
	}
}

int main(int argc, char **argv) {
	int runs = 1000;
	const char *part = "all";
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-runs") && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-part") && i + 1 < argc)
			part = argv[++i];
		else if (!strcmp(argv[i], "-wait")) {
			// A subject for signals from the host: every signal at
			// SIG_DFL, then sleep until one ends the process.
			all_default();
			fprintf(stderr, "nsc: waiting as pid %d\n", getpid());
			for (;;)
				pause();
		}
		else {
			fprintf(stderr, "usage: nsc [-runs N] [-part pid1|mntns|all] | nsc -wait\n");
			return 2;
		}
	}
	fprintf(stderr, "nsc: pid %d\n", getpid());
	printf("{\n  \"program\": \"nsc\",\n  \"cases\": [");
	if (!strcmp(part, "all") || !strcmp(part, "pid1")) {
		static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGKILL};
		static const char *disps[] = {"from-inside", "from-parent-ns", "not-init"};
		for (size_t s = 0; s < 4; s++)
			for (size_t d = 0; d < 3; d++)
				pid1case(sigs[s], disps[d]);
	}
	if (!strcmp(part, "all") || !strcmp(part, "mntns"))
		mntns_part(runs);
	printf("\n  ]\n}\n");
	return 0;
}
