#!/usr/bin/env bash
# The container test: builds the Dockerfile here with buildah and checks the image.
#   1. the base image debian:bookworm is made from Debian's packages (mmdebstrap) when this machine
#      has none: no image registry is reachable here. A Docker Desktop or Podman user pulls
#      debian:bookworm from Docker Hub instead; the Dockerfile is the same;
#   2. `buildah build --isolation chroot` of the Dockerfile (Docker's and Podman's engines cannot run
#      on this kind of machine: see the README);
#   3. the image's own start (entrypoint, as the student, uid 1000) with a host folder mounted as the
#      work folder: Jupyter answers from the host over http, the student's notebook is fetched through
#      the Contents API, a tslab kernel is started and chapter 01 executes through it
#      (scripts/hub/simulate.py --server), and the copies and runs/ land in the host folder;
#   4. inside the image, as root in the kit (/opt/rlhf): the fast-mode course (`npm run course`),
#      `npm test` (the grader's tests in its mode "uid", see below) and `npm run grade:check`.
#
#   bash scripts/container/test.sh [--skip-inside] [--clean]
# The image stays (localhost/rlhf-course:test, about 3 GB; its layers make the next run quick)
# unless --clean: then it and its build cache are removed.
# As root on Debian (apt-get installs buildah and mmdebstrap if missing). Slow (an image build,
# `npm ci`, the course and the tests inside: 20-40 minutes on 2 cores), so not part of npm test
# or CI; see the README, "Any laptop, any class".
set -euo pipefail
cd "$(dirname "$0")/../.."
say() { printf '\033[1mcontainer-test:\033[0m %s\n' "$*"; }
fail() { printf 'container-test: FAILED: %s\n' "$*" >&2; exit 1; }
inside=1 clean=0
for a in "$@"; do
  case "$a" in --skip-inside) inside=0 ;; --clean) clean=1 ;; *) fail "unknown option $a" ;; esac
done
[ "$(id -u)" = 0 ] || fail "run as root"
image=localhost/rlhf-course:test
scratch=$(mktemp -d /tmp/rlhf-container-test.XXXXXX)
containers=()
jupyter=""
kill_tree() {  # a process and its descendants, by id, the deepest first
  local child
  for child in $(pgrep -P "$1" || true); do kill_tree "$child"; done
  kill "$1" 2>/dev/null || true
}
stop_jupyter() {  # buildah run does not pass a signal on to the container's processes
  [ -n "$jupyter" ] || return 0
  kill_tree "$jupyter"; wait "$jupyter" 2>/dev/null || true; jupyter=""
}
cleanup() {
  [ -n "$jupyter" ] && stop_jupyter
  for c in "${containers[@]}"; do buildah rm "$c" >/dev/null 2>&1 || true; done
  rm -rf "$scratch"
}
trap cleanup EXIT

need=()
command -v buildah >/dev/null || need+=(buildah)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
if [ ${#need[@]} -gt 0 ]; then
  say "installing Debian packages: ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# --- 1. the base image ------------------------------------------------------------------------------
if [ -z "$(buildah images -q docker.io/library/debian:bookworm 2>/dev/null)" ]; then
  say "making debian:bookworm from Debian's packages (mmdebstrap, minbase)"
  mmdebstrap --quiet --variant=minbase --include=ca-certificates bookworm "$scratch/bookworm.tar" \
    "deb http://deb.debian.org/debian bookworm main" \
    "deb http://deb.debian.org/debian bookworm-updates main" \
    "deb http://deb.debian.org/debian-security bookworm-security main"
  c=$(buildah from scratch)
  buildah add "$c" "$scratch/bookworm.tar" / >/dev/null
  buildah config --cmd /bin/bash --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$c"
  buildah commit --rm --quiet "$c" docker.io/library/debian:bookworm >/dev/null
  rm -f "$scratch/bookworm.tar"
fi

# --- 2. the build -------------------------------------------------------------------------------------
# This machine reaches the npm registry through a TLS-inspecting proxy whose CA is in the host's
# bundle: the build gets that bundle as NODE_EXTRA_CA_CERTS (the Dockerfile's build argument for
# such networks). Elsewhere it is only Debian's CAs again.
say "building the Dockerfile (buildah build --isolation chroot; cached layers are reused)"
t0=$(date +%s)
buildah build --quiet --isolation chroot --pull=never --layers \
  -v /etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro --build-arg NODE_EXTRA_CA_CERTS=/run/host-ca.crt \
  -t "$image" . >"$scratch/build.log" 2>&1 || { tail -40 "$scratch/build.log" >&2; fail "the image did not build"; }
say "built $image in $(( $(date +%s) - t0 )) s: $(buildah images --format '{{.Size}}' "$image" | head -1)"

run() {  # run CONTAINER [buildah run options] -- command...
  local c=$1 opts=(); shift
  while [ "$1" != -- ]; do opts+=("$1"); shift; done
  buildah run --isolation chroot "${opts[@]}" "$c" "$@"
}

# --- 3. the student's start: Jupyter from the host, work in a mounted folder -------------------------
work="$scratch/work"; mkdir -p "$work"; chown 1000:1000 "$work"
port=$((18900 + RANDOM % 100)); token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
c=$(buildah from --pull=never "$image"); containers+=("$c")
# buildah's chroot isolation shares the host's network: the container's port is the host's
# (`docker run -p 8888:8888` does the mapping there).
run "$c" --env RLHF_FAST=1 -v "$work:/home/student/work" -- /usr/bin/tini -s -- /opt/rlhf/scripts/container/entrypoint.sh \
  rlhf-notebook --port="$port" --ip=127.0.0.1 --NotebookApp.token="$token" >"$scratch/jupyter.log" 2>&1 &
jupyter=$!
for _ in $(seq 1 90); do
  curl -sf "http://127.0.0.1:$port/api/status?token=$token" >/dev/null 2>&1 && break
  kill -0 "$jupyter" 2>/dev/null || { cat "$scratch/jupyter.log" >&2; fail "Jupyter did not start in the image"; }
  sleep 1
done
curl -sf "http://127.0.0.1:$port/api/kernelspecs?token=$token" | grep -q '"tslab"' || fail "no tslab kernel spec served"
say "Jupyter in the image answers from the host at http://127.0.0.1:$port ($(grep -o "Jupyter Notebook [0-9.]*" "$scratch/jupyter.log" | head -1))"
/usr/bin/python3 scripts/hub/simulate.py --server "http://127.0.0.1:$port" --token "$token" --uid 1000 \
  --chapters 01 --out "$scratch/student.json" || { tail -30 "$scratch/jupyter.log" >&2; fail "chapter 01 did not execute through the image's Jupyter"; }
[ -f "$work/notebooks/01-shannon-ngrams.ipynb" ] && [ -d "$work/runs" ] && [ -f "$work/assignments/ch01-ngram-smoothing.ipynb" ] \
  || fail "the mounted folder did not get the student's notebooks/, assignments/ and runs/"
[ "$(stat -c %u "$work/notebooks/01-shannon-ngrams.ipynb")" = 1000 ] || fail "the copies are not the student's (uid 1000)"
say "the mounted work folder holds the student's copies: $(cd "$work" && ls -d */ | tr '\n' ' ')(owned by uid 1000)"
stop_jupyter

# --- 4. the course and the tests, inside -------------------------------------------------------------
if [ "$inside" = 1 ]; then
  c=$(buildah from --pull=never "$image"); containers+=("$c")
  run "$c" --user root -- sh -c 'cd /opt/rlhf && node --version && npm --version && id -un' | tr '\n' ' ' | sed 's/^/container-test: inside: node, npm, user: /'; echo
  t0=$(date +%s)
  run "$c" --user root --env RLHF_FAST=1 -- sh -c 'cd /opt/rlhf && npm run course' >"$scratch/course.log" 2>&1 \
    || { tail -40 "$scratch/course.log" >&2; fail "the fast course failed inside the image"; }
  say "inside: RLHF_FAST=1 npm run course passed in $(( $(date +%s) - t0 )) s: $(grep -c '' "$scratch/course.log") lines, last: $(tail -1 "$scratch/course.log")"
  # npm test, all of it. The image sets RLHF_TEST_CONTAINER=1: Linux refuses user namespaces to a
  # chrooted process (buildah's isolation here), as Docker's default seccomp profile does to a
  # container, and there is no cgroup to divide, so the grader runs in its fallback mode "uid" and its
  # tests expect that mode, skipping by name the assertions only namespaces, a cgroup or git make true
  # (test/sandboxHost.ts; on the host, in CI, they run).
  t0=$(date +%s)
  run "$c" --user root --env RLHF_REQUIRE_NATIVE=1 -- sh -c 'cd /opt/rlhf && npm test' >"$scratch/test.log" 2>&1 \
    || { cp "$scratch/test.log" /tmp/rlhf-container-npm-test.log; grep -E 'FAIL' "$scratch/test.log" | head -40 >&2; tail -20 "$scratch/test.log" >&2
         fail "npm test failed inside the image (whole log: /tmp/rlhf-container-npm-test.log)"; }
  skipped=$(grep -E '^ *Tests ' "$scratch/test.log" | tr -s ' ' | tr '\n' ';')
  say "inside: npm test passed in $(( $(date +%s) - t0 )) s: ${skipped}"
  t0=$(date +%s)
  run "$c" --user root -- sh -c 'cd /opt/rlhf && npm run grade:check' >"$scratch/grade.log" 2>&1 \
    || { tail -30 "$scratch/grade.log" >&2; fail "npm run grade:check failed inside the image"; }
  mode=$(grep -o 'sandbox mode "[a-z-]*"' "$scratch/grade.log" | sort -u | tr '\n' ' ')
  say "inside: npm run grade:check passed in $(( $(date +%s) - t0 )) s, ${mode:-in the strongest sandbox mode (the grader names only weaker ones)}"
fi

if [ "$clean" = 1 ]; then buildah rmi "$image" >/dev/null 2>&1 || true; buildah rmi --prune >/dev/null 2>&1 || true; fi
say "passed"
