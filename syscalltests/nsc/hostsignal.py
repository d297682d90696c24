#!/usr/bin/env python3
"""hostsignal.py: a container's own init signalled from the host.

The guests' pid1 cells signal the init of a nested PID namespace from
inside the same kernel. This script covers the other "outside": the host.
Natively the subject is PID 1 of a new PID namespace made here with
unshare(2) and the host sends kill(2); under runsc it is the container's
first process and the host sends `runsc kill`. Subjects: `nsc -wait` (C,
every signal SIG_DFL) and `nsgo -subject wait` (Go, runtime handlers only).

usage (root): hostsignal.py NSC_BIN NSGO_BIN [NAME=RUNSC ...]
Prints "LANG SIG VARIANT RESULT"; RESULT is "survived" (natively: alive
1 s after the signal; under runsc: `runsc wait` had not returned 3 s after
`runsc kill`), "signaled:SIG" or "exited:N" (runsc: from the exit status
`runsc wait` reports, 128+N for a signal).
"""
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

CLONE_NEWNS, CLONE_NEWPID = 0x00020000, 0x20000000
MS_REC, MS_PRIVATE = 0x4000, 1 << 18
SIGS = ["SIGTERM", "SIGINT", "SIGHUP", "SIGKILL"]
libc = ctypes.CDLL(None, use_errno=True)


def wait_ready(path, deadline=20):
    end = time.time() + deadline
    while time.time() < end:
        with open(path) as f:
            if "pid 1" in f.read():
                return True
        time.sleep(0.05)
    return False


def status(st):
    if os.WIFSIGNALED(st):
        return "signaled:" + signal.Signals(os.WTERMSIG(st)).name
    return "exited:%d" % os.WEXITSTATUS(st)


def native_status(argv, sig, work):
    """Like native, but with the subject's wait status from the helper."""
    r, w = os.pipe()
    errf = os.path.join(work, "native.err")
    open(errf, "w").close()
    helper = os.fork()
    if helper == 0:
        os.close(r)
        if libc.unshare(CLONE_NEWPID | CLONE_NEWNS) != 0:
            os._exit(120)
        p = os.fork()
        if p == 0:  # PID 1 of the new namespace
            os.close(w)
            # SIG_IGN survives exec, and this script may have been started
            # with SIGINT or SIGHUP ignored (nohup, a background job); a
            # container's first process starts with the defaults.
            for sg in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(sg, signal.SIG_DFL)
            libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None)
            fd = os.open(errf, os.O_WRONLY)
            os.dup2(fd, 2)
            os.execv(argv[0], argv)
        os.write(w, b"%d\n" % p)
        _, st = os.waitpid(p, 0)
        os.write(w, b"%d\n" % st)
        os._exit(0)
    os.close(w)
    f = os.fdopen(r)
    sub = int(f.readline())
    if not wait_ready(errf):
        os.kill(sub, signal.SIGKILL)
        f.read()
        os.waitpid(helper, 0)
        return "not-ready"
    os.kill(sub, getattr(signal, sig))
    time.sleep(1)
    stat = open("/proc/%d/stat" % sub).read() if os.path.exists("/proc/%d/stat" % sub) else ""
    survived = stat != "" and stat.split(") ")[1][0] != "Z"
    if survived:
        os.kill(sub, signal.SIGKILL)
    st = int(f.readline())
    os.waitpid(helper, 0)
    return "survived" if survived else status(st)


def under_runsc(runsc, argv, sig, work, n):
    bundle = os.path.join(work, "bundle-%d" % n)
    if os.path.exists(bundle):
        shutil.rmtree(bundle)
    for d in ("rootfs/proc",):
        os.makedirs(os.path.join(bundle, d))
    shutil.copy(argv[0], os.path.join(bundle, "rootfs/guest"))
    spec = {"ociVersion": "1.0.2",
            "process": {"user": {"uid": 0, "gid": 0}, "args": ["/guest"] + argv[1:],
                        "env": ["PATH=/"], "cwd": "/"},
            "root": {"path": "rootfs"}, "hostname": "guest",
            "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
            "linux": {"namespaces": [{"type": t} for t in ("pid", "mount", "ipc", "uts", "network")]}}
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(spec, f)
    root = os.path.join(work, "state")
    os.makedirs(root, exist_ok=True)
    cid = "hs-%d-%d" % (os.getpid(), n)
    rs = [runsc, "--root", root, "--network=none"]
    errf = os.path.join(work, "runsc-%d.err" % n)
    with open(errf, "w") as ef:
        subprocess.run(rs + ["run", "--detach", "--bundle", bundle, cid],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=ef)
    try:
        if not wait_ready(errf, 60):
            return "not-ready"
        waiter = subprocess.Popen(rs + ["wait", cid], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(0.5)
        subprocess.run(rs + ["kill", cid, sig[3:]], check=True)
        try:
            # A signal that kills the init ends `runsc wait` at once; 3 s
            # leaves room for a loaded machine.
            out, err = waiter.communicate(timeout=3)
        except subprocess.TimeoutExpired:
            subprocess.run(rs + ["kill", cid, "KILL"])
            waiter.communicate()
            return "survived"
        try:
            es = json.loads(out)["exitStatus"]
        except (ValueError, KeyError):
            return "unknown(runsc wait: %r)" % (out + err)[:200]
        if es > 128:
            return "signaled:" + signal.Signals(es - 128).name
        return "exited:%d" % es
    finally:
        subprocess.run(rs + ["delete", "--force", cid], capture_output=True)


def main():
    nsc, nsgo = sys.argv[1], sys.argv[2]
    runscs = [a.split("=", 1) for a in sys.argv[3:]]
    subjects = {"c": [nsc, "-wait"], "go": [nsgo, "-subject", "wait"]}
    work = tempfile.mkdtemp(prefix="hostsignal-")
    n = 0
    try:
        for lang, argv in subjects.items():
            for sig in SIGS:
                print(lang, sig, "native", native_status(argv, sig, work), flush=True)
                for name, runsc in runscs:
                    n += 1
                    print(lang, sig, name, under_runsc(runsc, argv, sig, work, n), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
