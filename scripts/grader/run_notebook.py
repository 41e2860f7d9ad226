#!/usr/bin/python3
"""Execute code cells in a fresh, sandboxed tslab kernel and report what each cell did.

Run with Debian's /usr/bin/python3 (it has jupyter_client). The job arrives as JSON on stdin
(so hidden tests never touch the disk) and the result leaves as JSON on stdout:

  in:  {"workdir": str, "repo": str, "cells": [str], "cell_timeout": s, "notebook_timeout": s,
        "max_output": chars per cell, "sandbox": bool}
  out: {"kernel": "ok"|"died"|"timeout"|"no_start", "message": str,
        "cells": [{"status": "ok"|"error"|"timeout"|"not_run", "stdout": str, "stderr": str}]}

The kernel runs inside bubblewrap: it sees only the system, node_modules and lib/ read-only and
its own working copy read-write, so it cannot read the official notebooks, other submissions
or the grader's files, nor write outside its folder. Pass/fail is decided by the caller.
"""
import json
import os
import queue
import shutil
import sys
import tempfile
import time

from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager

TSLAB_ABORT_WINDOW = 0.3
SANDBOX_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "NODE_OPTIONS": "--max-old-space-size=1536",
    "RLHF_FAST": "1",
    "LANG": "C.UTF-8",
}


def sandbox_argv(repo, workdir, runtime_dir):
    """bwrap command line that wraps the tslab kernel; see the module docstring for why."""
    # bwrap shares the kernel's process group, so an interrupt (SIGINT to the group) would kill
    # it; start it with SIGINT ignored. Node installs its own SIGINT handler, so tslab still
    # gets interrupts.
    ignore_sigint = "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); os.execvp('bwrap', ['bwrap'] + sys.argv[1:])"
    argv = ["/usr/bin/python3", "-c", ignore_sigint, "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--clearenv"]
    for name, value in {**SANDBOX_ENV, "HOME": workdir}.items():
        argv += ["--setenv", name, value]
    for path in ["/usr", "/etc"]:
        argv += ["--ro-bind", path, path]
    for link, target in [("/bin", "usr/bin"), ("/lib", "usr/lib"), ("/lib64", "usr/lib64"), ("/sbin", "usr/sbin")]:
        if os.path.islink(link):
            argv += ["--symlink", target, link]
    argv += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for sub in ["node_modules", "lib"]:
        argv += ["--ro-bind", os.path.join(repo, sub), os.path.join(repo, sub)]
    argv += ["--ro-bind", runtime_dir, runtime_dir, "--bind", workdir, workdir, "--chdir", workdir]
    argv += ["--remount-ro", "/"]
    return argv + ["--"]


def start_kernel(job, private_dir):
    repo, workdir = job["repo"], job["workdir"]
    tslab = os.path.join(repo, "node_modules", ".bin", "tslab")
    runtime_dir = os.path.join(private_dir, "runtime")
    spec_dir = os.path.join(private_dir, "kernels", "tslab-grader")
    os.makedirs(runtime_dir)
    os.makedirs(spec_dir)
    prefix = sandbox_argv(repo, workdir, runtime_dir) if job.get("sandbox", True) else []
    spec = {"argv": prefix + [tslab, "kernel", "--config-path", "{connection_file}"],
            "display_name": "tslab (grader)", "language": "typescript"}
    if not job.get("sandbox", True):
        spec["env"] = {**SANDBOX_ENV, "HOME": workdir}
    with open(os.path.join(spec_dir, "kernel.json"), "w") as f:
        json.dump(spec, f)
    km = KernelManager(kernel_name="tslab-grader",
                       kernel_spec_manager=KernelSpecManager(kernel_dirs=[os.path.dirname(spec_dir)]))
    km.connection_file = os.path.join(runtime_dir, "kernel.json")
    km.start_kernel(cwd=workdir)
    kc = km.blocking_client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
    except Exception:
        kc.stop_channels()
        km.shutdown_kernel(now=True)  # no half-started kernel left behind
        raise
    return km, kc


class Capped:
    """Text that keeps its head and its tail, so a submission printing gigabytes costs nothing
    and the last lines (where a test prints its pass marker) survive."""

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
    """Execute one cell until the kernel is idle again or the deadline passes."""
    msg_id = kc.execute(code, allow_stdin=False, stop_on_error=False)
    out, err = Capped(max_output), Capped(max_output)
    result = lambda status: {"status": status, "stdout": out.text(), "stderr": err.text(), "msg_id": msg_id}
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return result("timeout")
        try:
            msg = kc.get_iopub_msg(timeout=min(remaining, 0.5))
        except queue.Empty:
            if not km.is_alive():
                return result("died")
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            (out if content["name"] == "stdout" else err).add(content["text"])
        elif kind in ("execute_result", "display_data"):
            out.add(content.get("data", {}).get("text/plain", "") + "\n")
        elif kind == "error":
            err.add(f"{content.get('ename', '')}: {content.get('evalue', '')}\n")
        elif kind == "status" and content["execution_state"] == "idle":
            break
    reply = wait_for_reply(kc, msg_id, deadline)
    return result("ok" if reply and reply["content"]["status"] == "ok" else "error")


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
    cells = [{"status": "not_run", "stdout": "", "stderr": ""} for _ in job["cells"]]
    result = {"kernel": "ok", "message": "", "cells": cells}
    private_dir = tempfile.mkdtemp(prefix="grader-kernel-")
    km = None
    try:
        # Two tries: on a busy 2-core machine a kernel's first kernel_info reply has been seen to
        # miss the 60 s wait while the next start took seconds (CI, 2026-11-27).
        for attempt in (1, 2):
            try:
                km, kc = start_kernel(job, os.path.join(private_dir, f"try{attempt}"))
                break
            except Exception as e:
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
                              "(process.exit, a crash or out of memory); later cells were not run")
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
        if km is not None:
            try:
                km.shutdown_kernel(now=True)
            except Exception:
                pass
        shutil.rmtree(private_dir, ignore_errors=True)


if __name__ == "__main__":
    json.dump(run(json.load(sys.stdin)), sys.stdout)
