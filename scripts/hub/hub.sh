#!/usr/bin/env bash
# A class on one server: JupyterHub (Debian's) in front of this checkout of the kit.
#
#   npm run hub                          start the hub (as root; settings: jupyterhub_config.py)
#   bash scripts/hub/hub.sh add student alice bob ...   system accounts in group rlhf-students
#   bash scripts/hub/hub.sh add ta carol                a TA: group rlhf-ta, may read the official
#                                                        assignments and run the grader
#   bash scripts/hub/hub.sh lock         make what only TAs may read (official assignments with their
#                                        solutions, tests, git history) unreadable to
#                                        students; `start` does it too
#
# The checkout must be where every student can read it (e.g. /opt/rlhf or /srv/rlhf, not under
# /root) and set up once with `npm start` (or `npm run setup`). Students get, on their first login,
# their own notebooks/, assignments/ (the released ones) and runs/ in their home; lib/ and
# node_modules/ stay shared and read-only (scripts/hub/rlhf_spawner.py).
set -euo pipefail
cd "$(dirname "$0")/../.."
KIT=$(pwd)
say() { printf '\033[1mhub:\033[0m %s\n' "$*"; }
die() { printf 'hub: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root: the hub starts each student's server as that student's account"

# Not grader/: the graded kernel, an unused uid, loads grader/kernel_preload.cjs.
TA_ONLY=(assignments test .git grades submissions build/gradescope)

lock() {
  getent group rlhf-ta >/dev/null || groupadd --system rlhf-ta
  for p in "${TA_ONLY[@]}"; do
    [ -e "$p" ] || continue
    chgrp -R rlhf-ta "$p"; chmod -R o-rwx "$p"; chmod -R g+rX "$p"
  done
}

case "${1:-start}" in
  add)
    kind=${2:-}; shift 2 || true
    case "$kind" in student) group=rlhf-students ;; ta) group=rlhf-ta ;; *) die "usage: hub.sh add student|ta NAME..." ;; esac
    getent group "$group" >/dev/null || groupadd --system "$group"
    for name in "$@"; do
      id "$name" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$name"
      usermod -aG "$group" "$name"
      say "$name is in $group (set a password with: passwd $name)"
    done
    exit 0 ;;
  lock) lock; say "TA-only files locked: ${TA_ONLY[*]}"; exit 0 ;;
  start) ;;
  *) die "unknown command '$1' (start, add, lock)" ;;
esac

# --- checks before starting -----------------------------------------------------------------------
command -v jupyterhub >/dev/null || {
  if command -v apt-get >/dev/null; then
    say "installing Debian's jupyterhub"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jupyterhub >/dev/null
  else
    die "jupyterhub is missing (Debian: apt-get install jupyterhub)"
  fi
}
# The proxy from npm (scripts/hub/package.json): Debian's needs Debian's Node.js 18.
[ -x scripts/hub/node_modules/.bin/configurable-http-proxy ] || {
  say "installing configurable-http-proxy (npm ci in scripts/hub)"
  npm ci --prefix scripts/hub --no-audit --no-fund --loglevel=error
}
[ -f build/jupyter/share/jupyter/kernels/tslab/kernel.json ] && [ -d node_modules ] \
  || die "the kit is not set up here yet: run 'npm run setup' (or 'npm start') first"
[ -d release ] || { say "writing the student versions of the assignments (npm run release)"; npm run --silent release >/dev/null; }
getent passwd nobody >/dev/null && ! setpriv --reuid=nobody --regid=nogroup --clear-groups \
  test -r "$KIT/lib/package.json" 2>/dev/null \
  && die "students cannot read $KIT (a folder above it is private?): put the kit under /opt or /srv"
lock
export RLHF_HUB_DATA=${RLHF_HUB_DATA:-/var/lib/rlhf-hub}
mkdir -p "$RLHF_HUB_DATA"; chmod 700 "$RLHF_HUB_DATA"
say "kit $KIT; state in $RLHF_HUB_DATA; http://${RLHF_HUB_IP:-127.0.0.1}:${RLHF_HUB_PORT:-8000}/"
cd "$RLHF_HUB_DATA"
exec jupyterhub -f "$KIT/scripts/hub/jupyterhub_config.py" "${@:2}"
