"""The sandbox a grading kernel runs in: its modes, its limits, and the clean-up after it.

Modes, strongest first (run_notebook.py uses the first one this machine allows, never root):
- "userns": bubblewrap in a user namespace, started as an unprivileged uid made for this run (no
  capabilities), no network, a fresh PID namespace, clean environment, read-only system, lib/,
  node_modules/ and the preload, size-limited tmpfs folders for everything writable;
- "bwrap-setpriv": the same namespaces and mounts built by root's bubblewrap, then the kernel
  drops to the run's uid with no capabilities (for machines without unprivileged user namespaces);
- "uid": no namespaces at all: the kernel runs as the run's uid with a clean environment and
  resource limits, but sees the network and every world-readable file.

A checkout may live under a folder the run's uid cannot traverse (a 0700 parent such as /root):
started by root, the launcher first enters a mount namespace of its own, mounts a small tmpfs and
bind-mounts, read-only, exactly lib/, node_modules/ and the preload into it at traversable paths
(the "stage"); in mode "userns" the unprivileged bubblewrap binds them from there, in mode "uid"
the kernel reads them there. Nothing is copied, no folder of the TA's changes mode, and only those
parts are reachable (the stage exists only in that namespace). bubblewrap's --ro-bind-fd does not
work here: an unprivileged bubblewrap cannot follow /proc/self/fd in its new user namespace. Where
namespaces are refused (mode "uid" in a container), the kernel reads the checkout's own paths,
which must then be readable by any uid.

Whole-kernel limits come from a control group per kernel where the machine has one the grader can
create (cgroup v2, else v1; as root): memory across all its processes, tmpfs pages included; a CPU
weight equal to every other kernel's; a process count. Without one, only the per-process rlimits
hold (and the time limits are wall-clock, so a hog can slow a neighbour): see README "Sandbox".
"""
import ctypes
import os
import pwd
import resource
import signal
import stat
import time

HOME = "/home/student"  # the kernel's working folder inside the sandbox
MODES = ("userns", "bwrap-setpriv", "uid")
LIMITS = {  # per process of the kernel; the uid is made for this run, so NPROC counts only its processes
    resource.RLIMIT_DATA: 3 << 30,  # bytes of heap and buffers (V8's address reservations do not count)
    resource.RLIMIT_NPROC: 256,  # processes and threads
    resource.RLIMIT_FSIZE: 64 << 20,  # bytes of any one file it writes
    resource.RLIMIT_NOFILE: 1024,
    resource.RLIMIT_CORE: 0,
}
TMPFS_BYTES = 256 << 20  # the kernel's folder and its /tmp, each
SHM_BYTES = 64 << 20  # its /dev/shm
RUNTIME_BYTES = 4 << 20  # the folder of its sockets and connection file (on the host, as root)
KERNEL_MEMORY = 4 << 30  # all of one kernel's processes together, tmpfs pages included (cgroup)
KERNEL_PIDS = 512  # processes and threads of one kernel (cgroup)
# Folders any uid may write to outside the sandbox (mode "uid" only): emptied of the run uid's files.
SHARED_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue", "/run/lock", "/var/lock")
# A mode is used only if its process is not root and has no capabilities.
PROBE = "[ \"$(id -u)\" != 0 ] && grep -q '^CapEff:[[:space:]]*0*$' /proc/self/status"

_libc = ctypes.CDLL(None, use_errno=True)
MNT_DETACH = 2


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


def shared_parts(job):
    """The host paths the kernel reads (folders and files), mounted read-only at the same paths."""
    repo = job["repo"]
    return [os.path.join(repo, "node_modules"), os.path.join(repo, "lib"), job["preload"]]


def bwrap_argv(mode, job, runtime_dir, files, stage=None):
    """bubblewrap's command line for mode userns or bwrap-setpriv (parts bound from `stage` if set)."""
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
    # /dev is bubblewrap's own small tmpfs (read-only below); its shm gets a size of its own.
    argv += ["--proc", "/proc", "--dev", "/dev", "--size", str(SHM_BYTES), "--tmpfs", "/dev/shm",
             "--size", str(TMPFS_BYTES), "--tmpfs", "/tmp"]
    for part in shared_parts(job):
        argv += ["--ro-bind", (stage + part) if stage else part, part]
    argv += ["--size", str(TMPFS_BYTES), "--tmpfs", HOME]
    argv += ["--symlink", os.path.join(job["repo"], "node_modules"), os.path.join(HOME, "node_modules")]
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
    for d in sorted(ancestors - {"/tmp", HOME, "/dev"}, key=lambda d: d.count("/")):
        argv += ["--chmod", "0755", d]
    return argv + ["--chmod", "1777", "/tmp", "--chmod", "1777", HOME, "--chmod", "1777", "/dev/shm",
                   "--chdir", HOME, "--remount-ro", "/", "--remount-ro", "/dev", "--"]


# Runs as root (when the grader is root) before the kernel drops its privileges: joins the
# kernel's control groups, builds the stage (below), sets the rlimits, ignores SIGINT (jupyter
# interrupts the whole process group; node installs its own handler, so tslab still gets
# interrupts) and execs with an empty environment (what a PID namespace's /proc/1/environ shows).
# The stage: a mount namespace of the launcher's own with a small tmpfs in which lib/,
# node_modules/ and the preload are bind-mounted read-only at traversable paths. In mode uid it
# is optional: where namespaces are refused, the kernel reads the checkout's own paths.
STUB = r"""
import ctypes, os, resource, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
cfg = CONFIG
argv = sys.argv[1:]
for procs in cfg["cgroup_procs"]:
    with open(procs, "w") as f:
        f.write(str(os.getpid()))
def build_stage(stage):
    libc = ctypes.CDLL(None, use_errno=True)
    def check(r, what):
        if r != 0:
            raise OSError(ctypes.get_errno(), f"grader stage: {what}: {os.strerror(ctypes.get_errno())}")
    B, REC, PRIVATE, RDONLY, REMOUNT, NOSUID, NODEV = 4096, 16384, 262144, 1, 32, 2, 4
    check(libc.unshare(0x00020000), "unshare")
    check(libc.mount(b"none", b"/", None, REC | PRIVATE, None), "private /")
    check(libc.mount(b"tmpfs", stage.encode(), b"tmpfs", NOSUID | NODEV, b"size=1m,mode=0755"), "tmpfs")
    for part in cfg["parts"]:
        dest = stage + part
        os.makedirs(os.path.dirname(dest), mode=0o755, exist_ok=True)
        if os.path.isdir(part):
            os.makedirs(dest, mode=0o755, exist_ok=True)
        else:
            open(dest, "w").close()
        check(libc.mount(part.encode(), dest.encode(), None, B | REC, None), "bind " + part)
        check(libc.mount(b"none", dest.encode(), None, REMOUNT | B | RDONLY | NOSUID | NODEV, None), "read-only " + part)
if cfg["stage"]:
    try:
        build_stage(cfg["stage"])
    except OSError:
        if cfg["chdir"] is None:
            raise
        argv = [a.replace(cfg["stage"], "") for a in argv]
        cfg["link"] = [p.replace(cfg["stage"], "") for p in cfg["link"]] if cfg["link"] else None
if cfg["link"]:
    os.symlink(cfg["link"][1], cfg["link"][0])
for k, v in cfg["limits"].items():
    resource.setrlimit(int(k), (v, v))
if cfg["chdir"]:
    os.chdir(cfg["chdir"])
os.execve(argv[0], argv, {})
"""


def launcher(mode, job, runtime_dir, uid, files, workdir, cgroup=None, private_dir=None):
    """argv that starts a command in the sandbox of `mode`, through STUB, and the prefix of the
    checkout's paths (lib/, node_modules/, the preload) as the kernel sees them."""
    root = os.geteuid() == 0
    stage = os.path.join(private_dir, "stage") if (mode != "bwrap-setpriv" and root and private_dir) else ""
    if stage:
        os.makedirs(stage, exist_ok=True)
        os.chmod(stage, 0o755)
    if mode == "userns":
        inner = (setpriv_argv(uid) if root else []) + bwrap_argv(mode, job, runtime_dir, files, stage)
    elif mode == "bwrap-setpriv":
        inner = bwrap_argv(mode, job, runtime_dir, files) + setpriv_argv(uid)
    else:
        inner = (setpriv_argv(uid) if root else []) + ["/usr/bin/env", "-i"] + [
            f"{k}={v}" for k, v in sandbox_env(stage + job["preload"]).items()]
    uid_mode = mode == "uid"
    link = [os.path.join(workdir, "node_modules"), stage + os.path.join(job["repo"], "node_modules")] if uid_mode else None
    config = {"cgroup_procs": cgroup.procs_files() if cgroup else [], "stage": stage,
              "parts": shared_parts(job), "limits": {int(k): v for k, v in LIMITS.items()},
              "chdir": workdir if uid_mode else None, "link": link}
    return ["/usr/bin/python3", "-c", STUB.replace("CONFIG", repr(config), 1)] + inner, (stage if uid_mode else "")


def _cgroup_mounts():
    """{controller or "unified": mount point} of this machine's cgroup file systems."""
    found = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fstype, _, options = post.split()[:3]
            point = pre.split()[4]
            if fstype == "cgroup2":
                found.setdefault("unified", point)
            elif fstype == "cgroup":
                for opt in options.split(","):
                    if opt in ("cpu", "memory", "pids"):
                        found[opt] = point
    return found


def _own_cgroup(controller):
    """This process's cgroup path in a v1 hierarchy ("" for v2's line)."""
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            if controller in ctrls.split(",") or (controller == "" and ctrls == ""):
                return path
    return "/"


def _write(path, value):
    with open(path, "w") as f:
        f.write(str(value))


class Cgroup:
    """One kernel's control group(s): created before the kernel starts, killed and removed after."""

    def __init__(self, dirs, version):
        self.dirs, self.version = dirs, version

    @staticmethod
    def create(name, memory=KERNEL_MEMORY):
        """A new group for one kernel, or (None, why) where the machine or the user allows none."""
        if os.geteuid() != 0:
            return None, "not root"
        mounts = _cgroup_mounts()
        why = []
        unified = mounts.get("unified")
        if unified and os.path.exists(os.path.join(unified, "cgroup.controllers")):
            try:
                with open(os.path.join(unified, "cgroup.controllers")) as f:
                    have = f.read().split()
                if not {"cpu", "memory", "pids"} <= set(have):
                    raise OSError(f"controllers {' '.join(have) or 'none'}")
                base = os.path.join(unified, "rlhf-grader")
                os.makedirs(base, exist_ok=True)
                _write(os.path.join(unified, "cgroup.subtree_control"), "+cpu +memory +pids")
                _write(os.path.join(base, "cgroup.subtree_control"), "+cpu +memory +pids")
                d = os.path.join(base, name)
                os.mkdir(d)
                group = Cgroup([d], 2)
                _write(os.path.join(d, "memory.max"), memory)
                if os.path.exists(os.path.join(d, "memory.swap.max")):
                    _write(os.path.join(d, "memory.swap.max"), 0)
                _write(os.path.join(d, "pids.max"), KERNEL_PIDS)
                _write(os.path.join(d, "cpu.weight"), 100)
                return group, ""
            except OSError as e:
                why.append(f"cgroup v2: {e}")
        if all(c in mounts for c in ("cpu", "memory", "pids")):
            dirs = []
            try:
                for c in ("cpu", "memory", "pids"):
                    d = os.path.join(mounts[c], _own_cgroup(c).lstrip("/"), name)
                    os.mkdir(d)
                    dirs.append(d)
                group = Cgroup(dirs, 1)
                _write(os.path.join(dirs[0], "cpu.shares"), 1024)
                _write(os.path.join(dirs[1], "memory.limit_in_bytes"), memory)
                if os.path.exists(os.path.join(dirs[1], "memory.memsw.limit_in_bytes")):
                    _write(os.path.join(dirs[1], "memory.memsw.limit_in_bytes"), memory)
                _write(os.path.join(dirs[2], "pids.max"), KERNEL_PIDS)
                return group, ""
            except OSError as e:
                Cgroup(dirs, 1).remove()
                why.append(f"cgroup v1: {e}")
        return None, "; ".join(why) or "no cgroup file system with cpu, memory and pids"

    def procs_files(self):
        return [os.path.join(d, "cgroup.procs") for d in self.dirs]

    def pids(self):
        out = set()
        for f in self.procs_files():
            try:
                with open(f) as fh:
                    out.update(int(p) for p in fh.read().split())
            except OSError:
                pass
        return out

    def kill(self):
        """SIGKILL every process in the group until none is left (a fork racing the kill included)."""
        for _ in range(200):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.01)

    def oom_kills(self):
        """How many of the kernel's processes the memory limit ended."""
        f = os.path.join(self.dirs[0], "memory.events") if self.version == 2 else os.path.join(self.dirs[1], "memory.oom_control")
        try:
            with open(f) as fh:
                for line in fh:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except (OSError, ValueError, IndexError):
            pass
        return 0

    def peak_bytes(self):
        f = os.path.join(self.dirs[0], "memory.peak") if self.version == 2 else os.path.join(self.dirs[1], "memory.max_usage_in_bytes")
        try:
            with open(f) as fh:
                return int(fh.read())
        except (OSError, ValueError, IndexError):
            return 0

    def remove(self):
        self.kill()
        for d in reversed(self.dirs):
            for _ in range(100):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


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


def mount_tmpfs(path, size, uid):
    """A tmpfs of `size` bytes at `path` owned by `uid` (root only; False if it cannot be mounted)."""
    if os.geteuid() != 0:
        return False
    opts = f"size={size},mode=0700,uid={uid},gid={uid}".encode()
    return _libc.mount(b"tmpfs", path.encode(), b"tmpfs", 2 | 4 | 8, opts) == 0  # nosuid, nodev, noexec


def unmount_under(folder):
    """Detaches every mount at or below `folder` (deepest first)."""
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if point == folder or point.startswith(folder.rstrip("/") + "/"):
                points.append(point)
    for p in sorted(points, key=len, reverse=True):
        _libc.umount2(p.encode(), MNT_DETACH)


def remove_owned(uid, places=SHARED_WRITABLE):
    """Deletes every file and folder owned by `uid` in `places` (never following links); returns
    how many. The kernel is dead by then, so nothing races this."""
    if uid == os.geteuid():
        return 0
    removed = 0

    def walk(d, depth):
        nonlocal removed
        try:
            entries = list(os.scandir(d))
        except OSError:
            return
        for e in entries:
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            # The uid can create files only in folders it owns or any uid may write to.
            folder = stat.S_ISDIR(st.st_mode)
            if folder and depth < 32 and (st.st_uid == uid or (st.st_mode & 0o003) == 0o003):
                walk(e.path, depth + 1)
            if st.st_uid == uid:
                try:
                    (os.rmdir if folder else os.unlink)(e.path)
                    removed += 1
                except OSError:
                    pass

    for place in places:
        if os.path.isdir(place) and not os.path.islink(place):
            walk(place, 0)
    return removed
