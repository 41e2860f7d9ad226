#!/usr/bin/python3
"""Simulated students on a running hub (scripts/hub/test.sh starts one): each logs in through the
hub's login form, gets their server started through the hub's REST API, fetches their copy of each
chapter through the Contents API, starts a tslab kernel and executes every code cell over the
kernel's websocket (the same messages the notebook page sends), all students at once.

While they run, the processes of each student's account are sampled from /proc every second: peak
resident memory of their kernel (the tslab node process) and of everything they run, and CPU time.

  simulate.py --hub http://127.0.0.1:8000 --token ADMIN_TOKEN --password PW --users s1,s2 \
              --chapters 01,02,03 [--out result.json] [--cell-timeout 1800]
  simulate.py --server http://127.0.0.1:8888 --token TOKEN --uid 1000 --chapters 01
              (one Jupyter server without a hub: the container test, scripts/container/test.sh)

Exit status 0 only if every student's every chapter executed without an error. Debian's Python and
tornado only (what jupyterhub already depends on).
"""
import argparse
import asyncio
import json
import os
import pwd
import threading
import time
import urllib.parse
import uuid

from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.httputil import url_concat
from tornado.websocket import websocket_connect

CHAPTERS = {
    '01': '01-shannon-ngrams', '02': '02-transformer', '03': '03-sft', '04': '04-reward-model',
    '05': '05-ppo', '06': '06-best-of-n', '07': '07-dpo', '08': '08-evaluation',
}
TICK = os.sysconf('SC_CLK_TCK')
PAGE = os.sysconf('SC_PAGE_SIZE')


class Sampler(threading.Thread):
    """Per user: peak RSS of the tslab kernel, peak RSS of all their processes, CPU seconds."""

    def __init__(self, uids):
        """uids: {uid: name} of the accounts whose processes are sampled."""
        super().__init__(daemon=True)
        self.uids = uids
        users = list(uids.values())
        self.peak_kernel = {u: 0 for u in users}
        self.peak_total = {u: 0 for u in users}
        self.cpu = {u: {} for u in users}  # pid -> cpu seconds seen last
        self.current = {u: None for u in users}  # the chapter each user runs now
        self.peak_chapter = {}  # (user, chapter) -> peak kernel RSS during that chapter
        self.stop = threading.Event()

    def sample(self):
        totals = {u: 0 for u in self.uids.values()}
        kernels = {u: 0 for u in self.uids.values()}
        for pid in os.listdir('/proc'):
            if not pid.isdigit():
                continue
            try:
                uid = os.stat(f'/proc/{pid}').st_uid
                user = self.uids.get(uid)
                if user is None:
                    continue
                with open(f'/proc/{pid}/statm') as f:
                    rss = int(f.read().split()[1]) * PAGE
                with open(f'/proc/{pid}/stat') as f:
                    fields = f.read().rsplit(')', 1)[1].split()
                with open(f'/proc/{pid}/cmdline', 'rb') as f:
                    cmd = f.read()
            except (OSError, ValueError, IndexError):
                continue
            self.cpu[user][pid] = (int(fields[11]) + int(fields[12])) / TICK
            totals[user] += rss
            if b'tslab' in cmd and b'kernel' in cmd:
                kernels[user] = max(kernels[user], rss)
        for u in totals:
            self.peak_total[u] = max(self.peak_total[u], totals[u])
            self.peak_kernel[u] = max(self.peak_kernel[u], kernels[u])
            key = (u, self.current[u])
            self.peak_chapter[key] = max(self.peak_chapter.get(key, 0), kernels[u])

    def cpu_seconds(self, user):
        return sum(self.cpu[user].values())

    def run(self):
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(1.0)


class Student:
    def __init__(self, args, name, sampler):
        self.args, self.name, self.sampler = args, name, sampler
        self.http = AsyncHTTPClient()
        self.hub = (args.hub or '').rstrip('/')
        self.results = {}

    async def fetch(self, url, method='GET', body=None, token=None, headers=None, **kw):
        h = dict(headers or {})
        if token:
            h['Authorization'] = f'token {token}'
        if body is not None and not isinstance(body, (str, bytes)):
            body = json.dumps(body)
            h['Content-Type'] = 'application/json'
        req = HTTPRequest(url, method=method, body=body, headers=h, request_timeout=600, **kw)
        return await self.http.fetch(req, raise_error=False)

    async def login(self):
        """The login form, as a browser fills it: returns only when the hub accepted the password."""
        page = await self.fetch(f'{self.hub}/hub/login')
        cookies = [c.split(';', 1)[0] for c in page.headers.get_list('Set-Cookie')]
        xsrf = next((c.split('=', 1)[1] for c in cookies if c.startswith('_xsrf=')), None)
        form = {'username': self.name, 'password': self.args.password}
        if xsrf:
            form['_xsrf'] = xsrf
        r = await self.fetch(f'{self.hub}/hub/login', method='POST', body=urllib.parse.urlencode(form),
                             headers={'Cookie': '; '.join(cookies),
                                      'Content-Type': 'application/x-www-form-urlencoded'},
                             follow_redirects=False)
        got = [c.split('=', 1)[0] for c in r.headers.get_list('Set-Cookie')]
        if r.code != 302 or 'jupyterhub-hub-login' not in got:
            raise RuntimeError(f'{self.name}: login refused (HTTP {r.code})')

    async def start_server(self):
        admin = self.args.token
        r = await self.fetch(f'{self.hub}/hub/api/users/{self.name}/server', 'POST', {}, token=admin)
        if r.code not in (201, 202, 400):  # 400: already running
            raise RuntimeError(f'{self.name}: spawn failed: HTTP {r.code} {r.body[:300]!r}')
        t0 = time.time()
        while True:
            r = await self.fetch(f'{self.hub}/hub/api/users/{self.name}', token=admin)
            server = json.loads(r.body).get('servers', {}).get('')
            if server and server.get('ready'):
                break
            if time.time() - t0 > 180:
                raise RuntimeError(f'{self.name}: server not ready after 180 s')
            await asyncio.sleep(1)
        r = await self.fetch(f'{self.hub}/hub/api/users/{self.name}/tokens', 'POST',
                             {'note': 'simulated student', 'expires_in': 86400}, token=admin)
        self.token = json.loads(r.body)['token']
        self.base = f'{self.hub}/user/{self.name}'
        return time.time() - t0

    async def run_chapter(self, chapter):
        path = f'notebooks/{CHAPTERS[chapter]}.ipynb'
        r = await self.fetch(f'{self.base}/api/contents/{path}', token=self.token)
        if r.code != 200:
            raise RuntimeError(f'{self.name}: GET {path}: HTTP {r.code}')
        nb = json.loads(r.body)['content']
        r = await self.fetch(f'{self.base}/api/kernels', 'POST', {'name': 'tslab', 'path': 'notebooks'},
                             token=self.token)
        kernel = json.loads(r.body)['id']
        # As the notebook page does: connect, and connect again while the server drops the
        # connection (the classic Notebook closes a websocket whose kernel has not answered
        # kernel_info within 60 s, which a tslab start, compiling TypeScript, can exceed on a
        # crowded server), until the kernel answers kernel_info.
        ws_url = url_concat(f"{self.base.replace('http', 'ws', 1)}/api/kernels/{kernel}/channels",
                            {'session_id': uuid.uuid4().hex})
        t_start = time.time()
        while True:
            ws = await websocket_connect(HTTPRequest(ws_url, headers={'Authorization': f'token {self.token}'},
                                                     connect_timeout=600, request_timeout=600),
                                         max_message_size=256 * 2**20)
            if await self.request(ws, 'kernel_info_request', {}) is not None:
                break
            ws.close()
            if time.time() - t_start > 900:
                raise RuntimeError(f'{self.name}: the kernel did not answer within 900 s')
            await asyncio.sleep(2)
        cpu0, t0, errors, cells = self.sampler.cpu_seconds(self.name), time.time(), [], 0
        self.sampler.current[self.name] = chapter
        try:
            for cell in nb['cells']:
                if cell['cell_type'] != 'code' or not ''.join(cell['source']).strip():
                    continue
                cells += 1
                status = await self.execute(ws, ''.join(cell['source']))
                if status is not None:
                    errors.append(status)
                    break
        finally:
            ws.close()
            await self.fetch(f'{self.base}/api/kernels/{kernel}', 'DELETE', token=self.token)
        wall = time.time() - t0
        self.results[chapter] = {
            'cells': cells, 'errors': errors, 'seconds': round(wall, 1),
            'cpu_seconds': round(self.sampler.cpu_seconds(self.name) - cpu0, 1),
            'peak_kernel_mib': round(self.sampler.peak_chapter.get((self.name, chapter), 0) / 2**20),
        }
        self.sampler.current[self.name] = None
        return not errors

    async def send(self, ws, msg_type, content):
        """One message on the shell channel, as the notebook page sends it; returns its msg_id."""
        msg_id = uuid.uuid4().hex
        await ws.write_message(json.dumps({
            'header': {'msg_id': msg_id, 'username': self.name, 'session': uuid.uuid4().hex,
                       'msg_type': msg_type, 'version': '5.3'},
            'parent_header': {}, 'metadata': {}, 'channel': 'shell', 'buffers': [], 'content': content,
        }))
        return msg_id

    async def request(self, ws, msg_type, content, timeout=600):
        """Send one shell request and wait for its reply's content; None if the websocket closed."""
        msg_id = await self.send(ws, msg_type, content)
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                raw = await asyncio.wait_for(ws.read_message(), deadline - time.time())
            except asyncio.TimeoutError:
                return None
            if raw is None:
                return None
            msg = json.loads(raw)
            if (msg.get('parent_header', {}).get('msg_id') == msg_id
                    and msg['header']['msg_type'] == msg_type.replace('_request', '_reply')):
                return msg['content']
        return None

    async def execute(self, ws, code):
        """One execute_request; None when the reply is ok, else a short description of the failure."""
        msg_id = await self.send(ws, 'execute_request', {
            'code': code, 'silent': False, 'store_history': True, 'user_expressions': {},
            'allow_stdin': False, 'stop_on_error': True})
        reply, idle, deadline = None, False, time.time() + self.args.cell_timeout
        while reply is None or not idle:
            left = deadline - time.time()
            if left <= 0:
                return f'cell timed out after {self.args.cell_timeout} s: {code[:80]!r}'
            raw = await asyncio.wait_for(ws.read_message(), left)
            if raw is None:
                return 'the kernel websocket closed (kernel died?)'
            msg = json.loads(raw)
            if msg.get('parent_header', {}).get('msg_id') != msg_id:
                continue
            kind = msg['header']['msg_type']
            if kind == 'execute_reply':
                reply = msg['content']
            elif kind == 'status' and msg['content'].get('execution_state') == 'idle':
                idle = True
        if reply.get('status') != 'ok':
            return f"{reply.get('ename')}: {str(reply.get('evalue'))[:300]}"
        return None

    async def run(self):
        t0 = time.time()
        try:
            if self.args.server:  # a plain Jupyter server (the container image), no hub
                self.base, self.token = self.args.server.rstrip('/'), self.args.token
            else:
                await self.login()
                self.spawn_seconds = round(await self.start_server(), 1)
            for chapter in self.args.chapters:
                if not await self.run_chapter(chapter):
                    break
        except Exception as e:  # one student's failure is reported, the others go on
            import traceback
            where = traceback.extract_tb(e.__traceback__)[-1]
            self.results['failure'] = f'{type(e).__name__}: {e} (simulate.py line {where.lineno})'
        self.total = time.time() - t0


async def main():
    p = argparse.ArgumentParser()
    p.add_argument('--hub', help='the hub, e.g. http://127.0.0.1:8000 (students log in, servers spawn)')
    p.add_argument('--server', help='or one Jupyter server, e.g. http://127.0.0.1:8888 (no hub)')
    p.add_argument('--uid', type=int, help='with --server: the uid its kernels run as (sampled)')
    p.add_argument('--token', required=True, help="the hub's admin token, or the server's token")
    p.add_argument('--password', default='')
    p.add_argument('--users', default='student')
    p.add_argument('--chapters', default='01')
    p.add_argument('--cell-timeout', type=float, default=1800)
    p.add_argument('--out')
    args = p.parse_args()
    args.chapters = args.chapters.split(',')
    users = args.users.split(',')
    if bool(args.hub) == bool(args.server):
        p.error('give --hub or --server')
    if args.server:
        users = users[:1]
        uids = {args.uid if args.uid is not None else os.getuid(): users[0]}
    else:
        uids = {pwd.getpwnam(u).pw_uid: u for u in users}
    AsyncHTTPClient.configure(None, max_clients=4 * len(users))
    sampler = Sampler(uids)
    sampler.start()
    students = [Student(args, u, sampler) for u in users]
    t0 = time.time()
    await asyncio.gather(*(s.run() for s in students))
    sampler.stop.set()
    ok = True
    report = {'users': len(users), 'chapters': args.chapters, 'wall_seconds': round(time.time() - t0, 1),
              'mode': 'fast' if os.environ.get('RLHF_FAST') else 'default', 'students': {}}
    for s in students:
        r = dict(s.results)
        r['spawn_seconds'] = getattr(s, 'spawn_seconds', None)
        r['peak_kernel_mib'] = round(sampler.peak_kernel[s.name] / 2**20)
        r['peak_user_mib'] = round(sampler.peak_total[s.name] / 2**20)
        report['students'][s.name] = r
        done = all(c in r and not r[c]['errors'] for c in args.chapters) and 'failure' not in r
        ok = ok and done
        chapters = ' '.join(f"{c}: {r[c]['cells']} cells {r[c]['seconds']} s (cpu {r[c]['cpu_seconds']} s, "
                            f"kernel {r[c]['peak_kernel_mib']} MiB)"
                            + (f" ERROR {r[c]['errors'][0]}" if r[c]['errors'] else '')
                            for c in args.chapters if c in r)
        print(f"simulate: {s.name}: {'ok' if done else 'FAILED'}; spawn {r['spawn_seconds']} s; {chapters}; "
              f"kernel peak {r['peak_kernel_mib']} MiB, all processes peak {r['peak_user_mib']} MiB"
              + (f"; {r['failure']}" if 'failure' in r else ''), flush=True)
    report['ok'] = ok
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=1)
    print(f"simulate: {len(users)} students, chapters {','.join(args.chapters)}: "
          f"{'all executed' if ok else 'FAILURES'} in {report['wall_seconds']} s", flush=True)
    return 0 if ok else 1


if __name__ == '__main__':
    raise SystemExit(asyncio.run(main()))
