#!/usr/bin/python3
"""Execute code cells in a fresh, sandboxed tslab kernel and report what each cell did.

Run with Debian's /usr/bin/python3 (it has jupyter_client). The job arrives as JSON on stdin
(so hidden tests never touch the disk) and the result leaves as JSON on stdout, which the kernel
cannot reach (its stdout and stderr are not the runner's):

  in:  {"files": {name: host path}, "repo": str, "preload": path, "cells": [str], "cell_timeout": s,
        "notebook_timeout": s, "max_output": chars per cell, "sandbox": "auto"|mode}
  out: {"kernel": "ok"|"died"|"timeout"|"no_start", "message": str, "sandbox": mode, "sandbox_note": str,
        "cells": [{"status": "ok"|"error"|"timeout"|"not_run", "stdout": str, "stderr": str,
                   "records": [str]}]}

Sandbox modes, strongest first (the first one this machine allows is used, never root):
- "userns": bubblewrap in a user namespace as an unprivileged uid made for this run (no
  capabilities), no network, a fresh PID namespace, clean environment, read-only system, lib/ and
  node_modules/, a size-limited tmpfs as the working folder;
- "bwrap-setpriv": the same namespaces and mounts built by root's bubblewrap, then the kernel
  drops to the run's uid with no capabilities (for machines without unprivileged user namespaces);
- "uid": no namespaces at all: the kernel runs as the run's uid with a clean environment and
  resource limits, but sees the network and every world-readable file.
All modes set resource limits (memory, processes, file size) that end only this kernel.
"""
import json
import os
import pwd
import queue
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager

TSLAB_ABORT_WINDOW = 0.3
MIME = "application/vnd.rlhf-grader+json"
HOME = "/home/student"  # the kernel's working folder inside the sandbox
MAX_RECORDS = 2  # grader messages kept per cell (a test cell sends one; two is a forgery)
MAX_RECORD = 2_000_000  # characters of one grader message
LIMITS = {  # per kernel; the uid is made for this run, so NPROC counts only its processes
    resource.RLIMIT_DATA: 3 << 30,  # bytes of heap and buffers (V8's address reservations do not count)
    resource.RLIMIT_NPROC: 256,  # processes and threads
    resource.RLIMIT_FSIZE: 64 << 20,  # bytes of any one file it writes
    resource.RLIMIT_NOFILE: 1024,
    resource.RLIMIT_CORE: 0,
}
TMPFS_BYTES = 256 << 20
MODES = ("userns", "bwrap-setpriv", "uid")
# A mode is used only if its process is not root and has no capabilities.
PROBE = "[ \"$(id -u)\" != 0 ] && grep -q '^CapEff:[[:space:]]*0*$' /proc/self/status"


def sandbox_env(preload):
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "NODE_OPTIONS": f"--max-old-space-size=1536 --require {preload}",
        "RLHF_FAST": "1",
        "LANG": "C.UTF-8",
        "HOME": HOME,
    }


def run_uid():
    """A uid no account uses, unique among concurrent runs (runner pids are)."""
    if os.geteuid() != 0:
        return os.geteuid()
    uid = 600000 + os.getpid()
    while True:
        try:
            pwd.getpwuid(uid)
            uid += 1 << 22
        except KeyError:
            return uid


def setpriv_argv(uid):
    return ["/usr/bin/setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
            "--bounding-set=-all", "--no-new-privs"]


def bwrap_argv(mode, job, runtime_dir, files):
    """bubblewrap's command line for mode userns or bwrap-setpriv."""
    repo = job["repo"]
    argv = ["/usr/bin/bwrap", "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-net",
            "--unshare-uts", "--unshare-cgroup-try", "--clearenv"]
    if mode == "userns":
        argv += ["--unshare-user", "--uid", "65534", "--gid", "65534", "--disable-userns", "--cap-drop", "ALL"]
    for name, value in sandbox_env(job["preload"]).items():
        argv += ["--setenv", name, value]
    argv += ["--ro-bind", "/usr", "/usr"]
    for link, target in [("/bin", "usr/bin"), ("/lib", "usr/lib"), ("/lib64", "usr/lib64"), ("/sbin", "usr/sbin")]:
        if os.path.islink(link):
            argv += ["--symlink", target, link]
        elif os.path.isdir(link):
            argv += ["--ro-bind", link, link]
    # Only the parts of /etc a Node process reads (not the machine's secrets or configuration).
    for f in ["ld.so.cache", "ld.so.conf", "ld.so.conf.d", "nsswitch.conf", "localtime", "alternatives", "ssl"]:
        if os.path.exists(os.path.join("/etc", f)):
            argv += ["--ro-bind", os.path.join("/etc", f), os.path.join("/etc", f)]
    argv += ["--proc", "/proc", "--dev", "/dev", "--size", str(TMPFS_BYTES), "--tmpfs", "/tmp"]
    for sub in ["node_modules", "lib"]:
        argv += ["--ro-bind", os.path.join(repo, sub), os.path.join(repo, sub)]
    argv += ["--ro-bind", job["preload"], job["preload"]]
    argv += ["--size", str(TMPFS_BYTES), "--tmpfs", HOME]
    argv += ["--symlink", os.path.join(repo, "node_modules"), os.path.join(HOME, "node_modules")]
    for name, host in files.items():
        argv += ["--ro-bind", host, os.path.join(HOME, name)]
    argv += ["--bind", runtime_dir, runtime_dir]
    # Folders bubblewrap makes for mount points are private to root when it runs as root: make
    # every ancestor of a mount point traversable.
    ancestors = set()
    for i, arg in enumerate(argv[:-1]):
        if arg in ("--ro-bind", "--bind", "--tmpfs", "--symlink"):
            dest = argv[i + 2] if arg != "--tmpfs" else argv[i + 1]
            parent = os.path.dirname(dest)
            while parent not in ("/", ""):
                ancestors.add(parent)
                parent = os.path.dirname(parent)
    for d in sorted(ancestors - {"/tmp", HOME}, key=lambda d: d.count("/")):
        argv += ["--chmod", "0755", d]
    return argv + ["--chmod", "1777", "/tmp", "--chmod", "1777", HOME, "--chdir", HOME, "--remount-ro", "/", "--"]


def launcher(mode, job, runtime_dir, uid, files, workdir):
    """argv that starts `command` in the sandbox of `mode`, through a Python stub that sets the
    resource limits, ignores SIGINT (jupyter interrupts the whole process group; node installs its
    own handler, so tslab still gets interrupts) and execs with an empty environment (what a
    PID namespace's /proc/1/environ shows)."""
    if mode == "userns":
        inner = (setpriv_argv(uid) if os.geteuid() == 0 else []) + bwrap_argv(mode, job, runtime_dir, files)
    elif mode == "bwrap-setpriv":
        inner = bwrap_argv(mode, job, runtime_dir, files) + setpriv_argv(uid)
    else:
        inner = (setpriv_argv(uid) if os.geteuid() == 0 else []) + ["/usr/bin/env", "-i"] + [
            f"{k}={v}" for k, v in sandbox_env(job["preload"]).items()]
    limits = {int(k): v for k, v in LIMITS.items()}
    stub = ("import os, resource, signal, sys\n"
            "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
            f"for k, v in {limits!r}.items(): resource.setrlimit(k, (v, v))\n"
            + (f"os.chdir({workdir!r})\n" if mode == "uid" else "")
            + "os.execve(sys.argv[1], sys.argv[1:], {})\n")
    return ["/usr/bin/python3", "-c", stub] + inner


_probed = {}


def usable_mode(job, private_dir):
    """The strongest sandbox mode that starts a process here (cached per runner), and why the
    stronger ones did not."""
    wanted = job.get("sandbox", "auto")
    candidates = MODES if wanted == "auto" else (wanted,)
    if os.geteuid() != 0:
        candidates = [m for m in candidates if m != "bwrap-setpriv"]
    why = []
    for mode in candidates:
        probe = os.path.join(private_dir, "probe")
        os.makedirs(probe, exist_ok=True)
        uid = run_uid()
        if os.geteuid() == 0:
            os.chown(probe, uid, uid)
        argv = launcher(mode, job, probe, uid, {}, probe) + ["/bin/sh", "-c", PROBE]
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30)
        if r.returncode == 0:
            return mode, "; ".join(why)
        why.append(f"{mode} unavailable ({r.stderr.decode(errors='replace').strip()[-200:] or f'exit {r.returncode}'})")
    raise RuntimeError("no sandbox mode works here: " + "; ".join(why))


def kill_uid(uid):
    """Ends every process left by this run's uid (e.g. a child it detached), in every mode."""
    if uid == os.geteuid():
        return
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if os.stat(f"/proc/{pid}").st_uid == uid:
                    os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass


def start_kernel(job, private_dir, mode, uid):
    repo = job["repo"]
    tslab = os.path.join(repo, "node_modules", ".bin", "tslab")
    runtime_dir = os.path.join(private_dir, "runtime")
    spec_dir = os.path.join(private_dir, "kernels", "tslab-grader")
    workdir = os.path.join(private_dir, "home")
    os.makedirs(runtime_dir)
    os.makedirs(spec_dir)
    os.makedirs(workdir)
    files = {}
    for name, host in job.get("files", {}).items():
        files[name] = os.path.join(private_dir, "files", name)
        os.makedirs(os.path.dirname(files[name]), exist_ok=True)
        shutil.copyfile(host, files[name])
        os.chmod(files[name], 0o644)
    if mode == "uid":  # no namespaces: the working folder is a real one the kernel's uid owns
        for name, host in files.items():
            shutil.copyfile(host, os.path.join(workdir, name))
        os.symlink(os.path.join(repo, "node_modules"), os.path.join(workdir, "node_modules"))
    for d in (private_dir, os.path.dirname(runtime_dir), runtime_dir, workdir):
        os.chmod(d, 0o711 if d != runtime_dir and d != workdir else 0o700)
        if os.geteuid() == 0 and d in (runtime_dir, workdir):
            os.chown(d, uid, uid)
    spec = {"argv": launcher(mode, job, runtime_dir, uid, files, workdir) + [tslab, "kernel", "--config-path", "{connection_file}"],
            "display_name": "tslab (grader)", "language": "typescript"}
    with open(os.path.join(spec_dir, "kernel.json"), "w") as f:
        json.dump(spec, f)
    # ipc transport: sockets are files in runtime_dir, reachable without a network. tslab binds
    # "ipc://<ip>:<port>" where jupyter_client connects to "ipc://<ip>-<port>": links join them.
    km = KernelManager(kernel_name="tslab-grader", transport="ipc", ip=os.path.join(runtime_dir, "k"),
                       kernel_spec_manager=KernelSpecManager(kernel_dirs=[os.path.dirname(spec_dir)]))
    km.connection_file = os.path.join(runtime_dir, "kernel.json")
    km.write_connection_file()  # before the start, readable by the kernel's uid
    os.chmod(km.connection_file, 0o644)
    for port in (km.shell_port, km.iopub_port, km.stdin_port, km.control_port, km.hb_port):
        os.symlink(f"k:{port}", os.path.join(runtime_dir, f"k-{port}"))
    with open(os.path.join(private_dir, "kernel.log"), "wb") as log:
        km.start_kernel(cwd="/", stdout=subprocess.DEVNULL, stderr=log)
    kc = km.blocking_client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
    except Exception as e:
        kc.stop_channels()
        km.shutdown_kernel(now=True)  # no half-started kernel left behind
        with open(os.path.join(private_dir, "kernel.log"), "rb") as f:
            f.seek(max(0, os.path.getsize(f.name) - 600))
            tail = f.read().decode(errors="replace").strip()
        raise RuntimeError(f"{e}{': ' + tail if tail else ''}")
    return km, kc


class Capped:
    """Text that keeps its head and its tail, so a submission printing gigabytes costs nothing."""

    TAIL = 2000

    def __init__(self, limit):
        self.limit, self.head, self.tail, self.size = limit, "", "", 0

    def add(self, text):
        room = self.limit - len(self.head)
        if room > 0:
            self.head += text[:room]
            text = text[room:]
        self.size += len(text)
        self.tail = (self.tail + text)[-self.TAIL:]

    def text(self):
        dropped = self.size - len(self.tail)
        gap = f"\n[... {dropped} characters dropped by the grader ...]\n" if dropped else ""
        return self.head + gap + self.tail


def run_cell(km, kc, code, deadline, max_output):
    """Execute one cell until its execute_reply arrives (the shell channel loses nothing) and the
    kernel's outputs for it are in (iopub can drop messages under a flood: at most a short wait
    for its idle status), or until the deadline passes."""
    msg_id = kc.execute(code, allow_stdin=False, stop_on_error=False)
    out, err, records = Capped(max_output), Capped(max_output), []
    reply = None
    idle = False
    drain_until = None

    def result(status):
        return {"status": status, "stdout": out.text(), "stderr": err.text(), "records": records, "msg_id": msg_id}

    while True:
        now = time.monotonic()
        if drain_until is not None and (idle or now >= drain_until):
            return result("ok" if reply["content"]["status"] == "ok" else "error")
        if now >= deadline:
            return result("timeout")
        try:
            msg = kc.get_iopub_msg(timeout=0.02)
        except queue.Empty:
            msg = None
        if msg is not None:
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                (out if content.get("name") == "stdout" else err).add(str(content.get("text", "")))
            elif kind in ("execute_result", "display_data"):
                data = content.get("data", {})
                if MIME in data:
                    if len(records) < MAX_RECORDS:
                        records.append(str(data[MIME])[:MAX_RECORD])
                else:
                    out.add(str(data.get("text/plain", "")) + "\n")
            elif kind == "error":
                err.add(f"{content.get('ename', '')}: {content.get('evalue', '')}\n")
            elif kind == "status" and content.get("execution_state") == "idle":
                idle = True
            continue
        if reply is None:
            try:
                msg = kc.get_shell_msg(timeout=0.02)
                if msg["parent_header"].get("msg_id") == msg_id:
                    reply = msg
                    drain_until = time.monotonic() + 2
                continue
            except queue.Empty:
                pass
        if not km.is_alive():
            return result("died")


def wait_for_reply(kc, msg_id, deadline):
    """The shell reply to msg_id, or None if it does not come before the deadline."""
    while time.monotonic() < deadline:
        try:
            reply = kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            return None
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply
    return None


def interrupt_and_recover(km, kc, msg_id, grace):
    """Interrupt a runaway cell; True if the kernel finishes it within the grace period.

    tslab aborts requests queued behind a failed one, so nothing is sent before its reply."""
    try:
        km.interrupt_kernel()
        return wait_for_reply(kc, msg_id, time.monotonic() + grace) is not None
    except Exception:
        return False


def run(job):
    cells = [{"status": "not_run", "stdout": "", "stderr": "", "records": []} for _ in job["cells"]]
    result = {"kernel": "ok", "message": "", "cells": cells, "sandbox": "", "sandbox_note": ""}
    private_dir = tempfile.mkdtemp(prefix="grader-kernel-")
    os.chmod(private_dir, 0o711)  # the kernel's uid must reach its runtime folder inside
    km = None
    uid = run_uid()
    try:
        try:
            mode, why = usable_mode(job, private_dir)
        except Exception as e:
            result.update(kernel="no_start", message=f"the grader's sandbox cannot start here: {e}")
            return result
        result.update(sandbox=mode, sandbox_note=why)
        # Two tries: on a busy 2-core machine a kernel's first kernel_info reply has been seen to
        # miss the 60 s wait while the next start took seconds (CI, 2026-11-27).
        for attempt in (1, 2):
            try:
                km, kc = start_kernel(job, os.path.join(private_dir, f"try{attempt}"), mode, uid)
                break
            except Exception as e:
                kill_uid(uid)
                if attempt == 2:
                    result.update(kernel="no_start", message=f"the kernel did not start (two tries): {e}")
                    return result
        nb_deadline = time.monotonic() + job["notebook_timeout"]  # the student's time starts with a ready kernel
        for i, code in enumerate(job["cells"]):
            deadline = min(time.monotonic() + job["cell_timeout"], nb_deadline)
            cells[i] = run_cell(km, kc, code, deadline, job["max_output"])
            msg_id = cells[i].pop("msg_id")
            if cells[i]["status"] == "died":
                cells[i]["status"] = "error"
                result.update(kernel="died", message=f"the kernel died while running cell {i + 1} "
                              "(process.exit, a crash or a resource limit); later cells were not run")
                break
            if cells[i]["status"] == "timeout":
                hit_notebook_limit = time.monotonic() >= nb_deadline
                limit = "notebook" if hit_notebook_limit else "cell"
                seconds = job["notebook_timeout"] if hit_notebook_limit else job["cell_timeout"]
                cells[i]["stderr"] += f"\n[grader] cell {i + 1} stopped: {limit} time limit of {seconds} s reached"
                if hit_notebook_limit or not interrupt_and_recover(km, kc, msg_id, job.get("interrupt_grace", 5)):
                    result.update(kernel="timeout", message=f"cell {i + 1} exceeded the {limit} time limit "
                                  f"({seconds} s) and the kernel was stopped; later cells were not run")
                    break
            if cells[i]["status"] != "ok":
                # tslab aborts every request that arrives within 200 ms of a failed cell.
                time.sleep(TSLAB_ABORT_WINDOW)
        return result
    finally:
        kill_uid(uid)  # the whole sandbox at once (jupyter's own shutdown waits on it)
        if km is not None:
            try:
                km.shutdown_kernel(now=True)
            except Exception:
                pass
        kill_uid(uid)
        shutil.rmtree(private_dir, ignore_errors=True)


if __name__ == "__main__":
    job = json.load(sys.stdin)
    out = json.dumps(run(job))
    sys.stdout.write(out)
