#!/usr/bin/python3
"""Execute code cells in a fresh, sandboxed tslab kernel and report what each cell did.

Run with Debian's /usr/bin/python3 (it has jupyter_client). The job arrives as JSON on stdin
(so hidden tests never touch the disk) and the result leaves as JSON on stdout, which the kernel
cannot reach (its stdout and stderr are not the runner's):

  in:  {"files": {name: host path}, "repo": str, "preload": path, "cells": [str], "cell_timeout": s,
        "notebook_timeout": s, "max_output": chars per cell, "sandbox": "auto"|mode,
        "kernel_memory": bytes (optional)}
  out: {"kernel": "ok"|"died"|"timeout"|"no_start", "message": str, "sandbox": mode, "sandbox_note": str,
        "cgroup": "" or why none, "kernel_peak_mb": n, "reader_peak_mb": n,
        "cells": [{"status": "ok"|"error"|"timeout"|"not_run", "stdout": str, "stderr": str,
                   "records": [str]}]}

The sandbox (modes, limits, clean-up) is in sandbox.py. This process is the supervisor: it sets
up the kernel's folders and control group and cleans up after it whatever happens. The kernel's
messages are read by a forked reader with a memory bound (READER_MEMORY): ZeroMQ refuses a frame
over MAX_FRAME before allocating it, and a message is dropped before it is decoded if it has more
than MAX_FRAMES frames, more than MAX_MESSAGE bytes or more than MAX_NESTING arrays and objects.
Whatever else a kernel sends, the reader dies at its bound, the supervisor notes it, cleans up and
answers; its own memory holds one cell's capped output at a time.
"""
import json
import os
import queue
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import zmq
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager

sys.dont_write_bytecode = True  # no __pycache__ of root's in the checkout
from sandbox import (KERNEL_MEMORY, MODES, PROBE, RUNTIME_BYTES, TMPFS_BYTES, Cgroup, kill_uid, launcher,
                     mount_tmpfs, remove_owned, run_uid, unmount_under)

TSLAB_ABORT_WINDOW = 0.3
MIME = "application/vnd.rlhf-grader+json"
MAX_RECORDS = 2  # grader messages kept per cell (a test cell sends one; two is a forgery)
MAX_RECORD = 2_000_000  # characters of one grader message
MAX_FRAME = 64 << 20  # bytes of one ZeroMQ frame from the kernel (refused by ZeroMQ before allocation;
# the kernel's output socket is then cut off, so its later results are lost)
MAX_FRAMES = 8  # frames of one message (a Jupyter message has 5 after its identities)
MAX_MESSAGE = 8 << 20  # bytes of one message, checked before decoding
MAX_NESTING = 200_000  # "[" and "{" in one message, checked before decoding (25M "[]" took 2 GB)
RCVHWM = 64  # messages ZeroMQ queues per socket before the kernel has to wait or drop
READER_MEMORY = 1 << 30  # RLIMIT_DATA of the reader process
MAX_LINE = 32 << 20  # bytes of one line from the reader to the supervisor


def usable_mode(job, private_dir):
    """The strongest sandbox mode that starts a process here, and why the stronger ones did not."""
    wanted = job.get("sandbox", "auto")
    candidates = MODES if wanted == "auto" else (wanted,)
    if os.geteuid() != 0:
        candidates = [m for m in candidates if m != "bwrap-setpriv"]
    why = []
    for mode in candidates:
        probe = os.path.join(private_dir, "probe", mode)
        os.makedirs(probe, exist_ok=True)
        uid = run_uid()
        if os.geteuid() == 0:
            os.chown(probe, uid, uid)
        argv, prefix = launcher(mode, job, probe, uid, {}, probe, private_dir=probe)
        argv += ["/bin/sh", "-c", PROBE]
        if mode == "uid":  # the kernel reads lib/ and node_modules/ from the stage or the checkout
            argv[-1] += f" && test -r {prefix}{job['repo']}/node_modules/.bin/tslab && test -r {prefix}{job['repo']}/lib"
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30)
        if r.returncode == 0:
            return mode, "; ".join(why)
        err = r.stderr.decode(errors='replace').strip()[-200:]
        if mode == "uid" and not err:
            err = "the kernel's uid cannot read the checkout's lib/ and node_modules/ (a private parent folder?)"
        why.append(f"{mode} unavailable ({err or f'exit {r.returncode}'})")
    raise RuntimeError("no sandbox mode works here: " + "; ".join(why))


class Oversized(Exception):
    """A message from the kernel over the reader's bounds, dropped before it was decoded."""


def bounded_client(km):
    """A blocking client whose sockets refuse big frames and whose session checks a message's
    size before decoding it."""
    kc = km.blocking_client()
    kc.context.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME)
    kc.context.setsockopt(zmq.RCVHWM, RCVHWM)
    decode = kc.session.deserialize

    def deserialize(msg_list, content=True, copy=True):
        frames = [f if isinstance(f, bytes) else f.bytes for f in msg_list]
        size = sum(len(f) for f in frames)
        nesting = sum(f.count(b"[") + f.count(b"{") for f in frames)
        if len(frames) > MAX_FRAMES or size > MAX_MESSAGE or nesting > MAX_NESTING:
            raise Oversized(f"{len(frames)} frames, {size} bytes, {nesting} arrays and objects")
        return decode(frames, content=content, copy=True)

    kc.session.deserialize = deserialize
    return kc


def start_kernel(job, private_dir, mode, uid, cgroup):
    repo = job["repo"]
    tslab = os.path.join(repo, "node_modules", ".bin", "tslab")
    runtime_dir = os.path.join(private_dir, "runtime")
    spec_dir = os.path.join(private_dir, "kernels", "tslab-grader")
    workdir = os.path.join(private_dir, "home")
    os.makedirs(runtime_dir)
    os.makedirs(spec_dir)
    os.makedirs(workdir)
    # As root, the folders the kernel writes on the host are small tmpfs mounts (the supervisor
    # unmounts them); the uid-mode working folder holds what a sandbox's tmpfs would.
    mount_tmpfs(runtime_dir, RUNTIME_BYTES, uid)
    if mode == "uid":
        mount_tmpfs(workdir, TMPFS_BYTES, uid)
    files = {}
    for name, host in job.get("files", {}).items():
        files[name] = os.path.join(private_dir, "files", name)
        os.makedirs(os.path.dirname(files[name]), exist_ok=True)
        shutil.copyfile(host, files[name])
        os.chmod(files[name], 0o644)
    if mode == "uid":  # no sandbox: the working folder is a real one the kernel's uid owns
        for name, host in files.items():
            shutil.copyfile(host, os.path.join(workdir, name))
    for d in (private_dir, os.path.dirname(runtime_dir), runtime_dir, workdir):
        os.chmod(d, 0o711 if d != runtime_dir and d != workdir else 0o700)
        if os.geteuid() == 0 and d in (runtime_dir, workdir):
            os.chown(d, uid, uid)
    argv, prefix = launcher(mode, job, runtime_dir, uid, files, workdir, cgroup, private_dir)
    spec = {"argv": argv + [prefix + tslab, "kernel", "--config-path", "{connection_file}"],
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
    kc = bounded_client(km)
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
        except Oversized as e:
            err.add(f"\n[grader] a message from the kernel was dropped unread ({e})\n")
            continue
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
            except Oversized as e:
                err.add(f"\n[grader] a reply from the kernel was dropped unread ({e})\n")
        if not km.is_alive():
            return result("died")


def wait_for_reply(kc, msg_id, deadline):
    """The shell reply to msg_id, or None if it does not come before the deadline."""
    while time.monotonic() < deadline:
        try:
            reply = kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            return None
        except Oversized:
            continue
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


def read_cells(job, private_dir, mode, uid, cgroup, emit):
    """The reader: starts the kernel, runs every cell, and emits each result as it comes."""
    km = None
    try:
        # Two tries: on a busy 2-core machine a kernel's first kernel_info reply has been seen to
        # miss the 60 s wait while the next start took seconds (CI, 2026-11-27).
        for attempt in (1, 2):
            try:
                km, kc = start_kernel(job, os.path.join(private_dir, f"try{attempt}"), mode, uid, cgroup)
                break
            except Exception as e:
                if cgroup:
                    cgroup.kill()
                kill_uid(uid)
                if attempt == 2:
                    return emit({"kernel": "no_start", "message": f"the kernel did not start (two tries): {e}"})
        nb_deadline = time.monotonic() + job["notebook_timeout"]  # the student's time starts with a ready kernel
        for i, code in enumerate(job["cells"]):
            deadline = min(time.monotonic() + job["cell_timeout"], nb_deadline)
            cell = run_cell(km, kc, code, deadline, job["max_output"])
            msg_id = cell.pop("msg_id")
            end = None
            if cell["status"] == "died":
                cell["status"] = "error"
                end = {"kernel": "died", "message": f"the kernel died while running cell {i + 1} "
                       "(process.exit, a crash or a resource limit); later cells were not run"}
            if cell["status"] == "timeout":
                hit_notebook_limit = time.monotonic() >= nb_deadline
                limit = "notebook" if hit_notebook_limit else "cell"
                seconds = job["notebook_timeout"] if hit_notebook_limit else job["cell_timeout"]
                cell["stderr"] += f"\n[grader] cell {i + 1} stopped: {limit} time limit of {seconds} s reached"
                if hit_notebook_limit or not interrupt_and_recover(km, kc, msg_id, job.get("interrupt_grace", 5)):
                    end = {"kernel": "timeout", "message": f"cell {i + 1} exceeded the {limit} time limit "
                           f"({seconds} s) and the kernel was stopped; later cells were not run"}
            emit({"cell": i, **cell})
            if end:
                return emit(end)
            if cell["status"] != "ok":
                # tslab aborts every request that arrives within 200 ms of a failed cell.
                time.sleep(TSLAB_ABORT_WINDOW)
        emit({"kernel": "ok"})
    finally:
        if cgroup:
            cgroup.kill()  # the whole sandbox at once (jupyter's own shutdown waits on it)
        kill_uid(uid)
        if km is not None:
            try:
                km.shutdown_kernel(now=True)
            except Exception:
                pass
        emit({"reader_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024})


def fork_reader(job, private_dir, mode, uid, cgroup, result):
    """Runs read_cells in a child process capped at READER_MEMORY and folds its lines into result."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(rfd)
            # The soft limit only: the kernel launched from here sets its own (higher) limits.
            resource.setrlimit(resource.RLIMIT_DATA, (READER_MEMORY, resource.getrlimit(resource.RLIMIT_DATA)[1]))
            with os.fdopen(wfd, "w") as out:
                def emit(line):
                    out.write(json.dumps(line) + "\n")
                    out.flush()
                read_cells(job, private_dir, mode, uid, cgroup, emit)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(wfd)
    ended = False
    with os.fdopen(rfd, "rb") as lines:
        while True:
            line = lines.readline(MAX_LINE + 1)
            if not line:
                break
            if len(line) > MAX_LINE or not line.endswith(b"\n"):
                os.kill(pid, 9)
                break
            item = json.loads(line)
            if "cell" in item:
                result["cells"][item.pop("cell")] = item
            elif "kernel" in item:
                ended = True
                result.update(item)
            else:
                result.update(item)
    _, status = os.waitpid(pid, 0)
    if not ended:
        why = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"exit {os.WEXITSTATUS(status)}"
        result.update(kernel="died", message="the grader stopped reading this kernel: what it sent went over "
                      f"the reader's memory bound of {READER_MEMORY >> 20} MB ({why}); later cells were not run")


def run(job):
    cells = [{"status": "not_run", "stdout": "", "stderr": "", "records": []} for _ in job["cells"]]
    result = {"kernel": "ok", "message": "", "cells": cells, "sandbox": "", "sandbox_note": "", "cgroup": ""}
    private_dir = tempfile.mkdtemp(prefix="grader-kernel-")
    os.chmod(private_dir, 0o711)  # the kernel's uid must reach its runtime folder inside
    uid = run_uid()
    cgroup = None
    mode = ""
    try:
        try:
            mode, why = usable_mode(job, private_dir)
        except Exception as e:
            result.update(kernel="no_start", message=f"the grader's sandbox cannot start here: {e}")
            return result
        result.update(sandbox=mode, sandbox_note=why)
        cgroup, no_cgroup = Cgroup.create(f"kernel-{os.getpid()}", job.get("kernel_memory") or KERNEL_MEMORY)
        result["cgroup"] = "" if cgroup else f"no control group ({no_cgroup})"
        fork_reader(job, private_dir, mode, uid, cgroup, result)
        if cgroup:
            result["kernel_peak_mb"] = cgroup.peak_bytes() >> 20
            kills = cgroup.oom_kills()
            if kills:
                note = (f"the kernel's memory limit of {(job.get('kernel_memory') or KERNEL_MEMORY) >> 20} MB was "
                        f"reached ({kills} of its processes ended)")
                result["message"] = f"{result['message']}; {note}" if result["message"] else note
        return result
    finally:
        if cgroup:
            cgroup.remove()
        kill_uid(uid)
        unmount_under(private_dir)
        shutil.rmtree(private_dir, ignore_errors=True)
        if mode == "uid" and os.geteuid() == 0:
            remove_owned(uid)


if __name__ == "__main__":
    job = json.load(sys.stdin)
    out = json.dumps(run(job))
    sys.stdout.write(out)
