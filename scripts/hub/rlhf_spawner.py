"""JupyterHub spawner for the course kit on one server (Debian's jupyterhub, LocalProcessSpawner).

Each student is a system account. At every start of their server the spawner
  - links the kit into their home (package.json, lib/, node_modules/, data/ -> the shared, read-only
    kit), so `import "rlhf"` resolves there, and copies what is new of the notebooks, the released
    assignments and an empty runs/ (scripts/container/workspace.sh: never overwrites their files);
  - starts Debian's classic Notebook server as the user with the kit's tslab kernel on JUPYTER_PATH;
  - puts the server and every kernel it starts in a control group of its own with the user's memory
    and CPU limits (`c.Spawner.mem_limit`, `c.Spawner.cpu_limit`), when the hub runs as root on a
    machine whose cgroups it may write (cgroup v2, or v1's memory and cpu controllers). Where it may
    not, it says so in the hub's log once and starts the server without limits.
"""
import os
import subprocess

from jupyterhub.spawner import LocalProcessSpawner, set_user_setuid
from traitlets import Unicode

HERE = os.path.dirname(os.path.abspath(__file__))


def _own_cgroup(controller):
    """This process's cgroup path for a v1 controller ('memory', 'cpu'), or the v2 path ('')."""
    with open('/proc/self/cgroup') as f:
        for line in f:
            _, controllers, path = line.rstrip('\n').split(':', 2)
            if controller in controllers.split(',') or (controller == '' and controllers == ''):
                return path
    return None


class CGroupLimits:
    """A cgroup per user next to the hub's own processes (rlhf-hub-<user>), with memory.max and
    cpu.max (v2) or their v1 files (memory.limit_in_bytes, cpu.cfs_quota_us)."""

    def __init__(self, name):
        self.name = name
        self.dirs = []  # folders whose cgroup.procs gets the server's pid

    @staticmethod
    def _write(path, value):
        with open(path, 'w') as f:
            f.write(str(value))

    def create(self, mem_bytes, cpus, log):
        """Make the user's cgroup(s) and set the limits; False (with a log line) if not possible."""
        try:
            if os.path.exists('/sys/fs/cgroup/cgroup.controllers'):  # cgroup v2 (untested here)
                # v2 lets a cgroup hand controllers to children only while it holds no process
                # itself: run the hub in a cgroup of its own (systemd: Delegate=yes) for this.
                parent = '/sys/fs/cgroup' + (_own_cgroup('') or '/')
                self._write(os.path.join(parent, 'cgroup.subtree_control'), '+memory +cpu')
                d = os.path.join(parent, f'rlhf-hub-{self.name}')
                os.makedirs(d, exist_ok=True)
                if mem_bytes:
                    self._write(os.path.join(d, 'memory.max'), mem_bytes)
                if cpus:
                    self._write(os.path.join(d, 'cpu.max'), f'{int(cpus * 100000)} 100000')
                self.dirs = [d]
            else:  # cgroup v1: one hierarchy per controller
                self.dirs = []
                for controller, wanted in (('memory', mem_bytes), ('cpu', cpus)):
                    if not wanted:
                        continue
                    own = _own_cgroup(controller)
                    root = f'/sys/fs/cgroup/{controller}'
                    if own is None or not os.path.isdir(root):
                        raise OSError(f'no cgroup v1 {controller} controller')
                    # Directly below the hub's cgroup, not under a common parent: the CPU
                    # scheduler weighs a cgroup like one process, so a parent would give the whole
                    # class one process's share against everything else on the machine.
                    d = os.path.join(root + own, f'rlhf-hub-{self.name}')
                    os.makedirs(d, exist_ok=True)
                    if controller == 'memory':
                        self._write(os.path.join(d, 'memory.limit_in_bytes'), mem_bytes)
                    else:
                        self._write(os.path.join(d, 'cpu.cfs_period_us'), 100000)
                        self._write(os.path.join(d, 'cpu.cfs_quota_us'), int(cpus * 100000))
                    self.dirs.append(d)
            return True
        except OSError as e:
            log.warning('rlhf: no memory/CPU limits for %s (cgroups not writable here: %s)', self.name, e)
            self.dirs = []
            return False

    def remove(self):
        """After the server stopped: remove the (now empty) cgroup folders."""
        for d in self.dirs:
            try:
                os.rmdir(d)
            except OSError:
                pass  # a process is still in it, or it is gone already

    def enter(self):
        """Called in the child between fork and exec, before it drops root: join the cgroup(s)."""
        for d in self.dirs:
            self._write(os.path.join(d, 'cgroup.procs'), os.getpid())


class RLHFSpawner(LocalProcessSpawner):
    kit = Unicode(
        os.path.dirname(os.path.dirname(HERE)),
        config=True,
        help='The shared install of the kit (read-only for students): lib/, node_modules/, notebooks/, release/.',
    )

    def _workspace(self, command, folder):
        """scripts/container/workspace.sh as the user (so their files are theirs)."""
        subprocess.run(
            [os.path.join(self.kit, 'scripts', 'container', 'workspace.sh'), command, folder],
            env={'PATH': '/usr/bin:/bin', 'RLHF_KIT': self.kit},
            preexec_fn=set_user_setuid(self.user.name, chdir=False),
            check=True, capture_output=True, text=True,
        )

    async def start(self):
        import pwd
        home = pwd.getpwnam(self.user.name).pw_dir
        try:
            self._workspace('link', home)
            self._workspace('fill', home)
        except subprocess.CalledProcessError as e:
            raise RuntimeError(f'rlhf: could not prepare {home}: {e.stderr.strip()}') from e
        self._limits = CGroupLimits(self.user.name)
        if os.getuid() == 0 and (self.mem_limit or self.cpu_limit):
            self._limits.create(self.mem_limit, self.cpu_limit, self.log)
        return await super().start()

    async def stop(self, now=False):
        await super().stop(now=now)
        limits = getattr(self, '_limits', None)
        if limits is not None:
            limits.remove()

    def make_preexec_fn(self, name):
        drop = set_user_setuid(name)
        limits = getattr(self, '_limits', None)

        def preexec():
            if limits is not None:
                limits.enter()
            drop()

        return preexec

    def get_env(self):
        env = super().get_env()
        env['JUPYTER_PATH'] = os.path.join(self.kit, 'build', 'jupyter', 'share', 'jupyter')
        env['PATH'] = os.path.join(self.kit, 'node_modules', '.bin') + ':' + env.get('PATH', '/usr/bin:/bin')
        # Debian's jupyterhub 3.0 serves the classic Notebook (jupyter_server is not in bookworm).
        env['JUPYTERHUB_SINGLEUSER_APP'] = 'notebook.notebookapp.NotebookApp'
        # The native kernels' threads: as many as the user's CPU share, so N students do not run
        # 2N BLAS threads on 2 cores.
        if self.cpu_limit:
            env['RLHF_THREADS'] = str(max(1, int(self.cpu_limit + 0.5)))
        for name in ('RLHF_FAST', 'RLHF_SEED', 'LANG'):
            if name in os.environ:
                env[name] = os.environ[name]
        return env
