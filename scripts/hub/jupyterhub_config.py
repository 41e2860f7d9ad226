"""JupyterHub configuration for a class on one server (scripts/hub/hub.sh starts it: `npm run hub`).

Debian's jupyterhub (3.0, classic Notebook single-user servers), configurable-http-proxy from npm, the
kit's tslab kernel, one system account per student (PAM login by default), each student's notebooks,
assignments and runs/ in their home, the kit itself shared read-only.

Settings come from the environment (hub.sh passes them through):
  RLHF_HUB_IP / RLHF_HUB_PORT   where the hub listens (default 127.0.0.1:8000; 0.0.0.0 for a class,
                                behind TLS: see the README)
  RLHF_HUB_DATA                 the hub's own state (database, cookie secret, proxy token)
  RLHF_HUB_MEM / RLHF_HUB_CPUS  per-student limits (default 3G and 1 CPU; '' for none)
  RLHF_HUB_STUDENTS             comma-separated accounts allowed to log in (default: group rlhf-students)
  RLHF_HUB_TAS                  comma-separated TA accounts: hub admins (`hub.sh add ta NAME` puts them in
                                group rlhf-ta, which may read the official assignments and run the grader)
  RLHF_HUB_AUTH=dummy           tests only: DummyAuthenticator with password RLHF_HUB_PASSWORD
  RLHF_HUB_TEST_TOKEN           tests only: an admin API token for the simulator
"""
import grp
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rlhf_spawner import RLHFSpawner  # noqa: E402

c = get_config()  # noqa: F821 (JupyterHub's config loader defines it)
env = os.environ.get
data = env('RLHF_HUB_DATA', '/var/lib/rlhf-hub')

c.JupyterHub.ip = env('RLHF_HUB_IP', '127.0.0.1')
c.JupyterHub.port = int(env('RLHF_HUB_PORT', '8000'))
c.JupyterHub.hub_ip = '127.0.0.1'
c.JupyterHub.hub_port = int(env('RLHF_HUB_API_PORT', '8081'))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{env('RLHF_HUB_PROXY_PORT', '8001')}"
# configurable-http-proxy from npm (scripts/hub/package.json, installed by hub.sh): Debian's package
# only runs on Debian's Node.js 18.
c.ConfigurableHTTPProxy.command = [os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                'node_modules', '.bin', 'configurable-http-proxy')]
c.ConfigurableHTTPProxy.pid_file = os.path.join(data, 'proxy.pid')
c.JupyterHub.db_url = 'sqlite:///' + os.path.join(data, 'jupyterhub.sqlite')
c.JupyterHub.cookie_secret_file = os.path.join(data, 'cookie_secret')
c.JupyterHub.pid_file = os.path.join(data, 'jupyterhub.pid')

c.JupyterHub.spawner_class = RLHFSpawner
c.Spawner.notebook_dir = '~'
c.Spawner.default_url = '/tree/notebooks'
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
mem, cpus = env('RLHF_HUB_MEM', '3G'), env('RLHF_HUB_CPUS', '1')
if mem:
    c.Spawner.mem_limit = mem
if cpus:
    c.Spawner.cpu_limit = float(cpus)
# Idle servers stay up (a long training cell must not be culled); a TA stops them from the admin page.

tas = {u for u in env('RLHF_HUB_TAS', '').split(',') if u}
c.Authenticator.admin_users = tas
students = {u for u in env('RLHF_HUB_STUDENTS', '').split(',') if u}
if env('RLHF_HUB_AUTH') == 'dummy':
    c.JupyterHub.authenticator_class = 'dummy'
    c.DummyAuthenticator.password = env('RLHF_HUB_PASSWORD', '')
    c.Authenticator.allowed_users = students | tas
else:
    c.JupyterHub.authenticator_class = 'pam'
    if students:
        c.Authenticator.allowed_users = students | tas
    else:
        try:
            grp.getgrnam('rlhf-students')
            c.PAMAuthenticator.allowed_groups = {'rlhf-students'}
        except KeyError:
            pass

token = env('RLHF_HUB_TEST_TOKEN')
if token:
    c.JupyterHub.services = [{'name': 'rlhf-test', 'api_token': token}]
    c.JupyterHub.load_roles = [{'name': 'rlhf-test', 'services': ['rlhf-test'],
                                'scopes': ['admin:users', 'admin:servers', 'tokens', 'access:servers']}]
