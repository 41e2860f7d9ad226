#!/usr/bin/env bash
# The hub test: a JupyterHub on 127.0.0.1 (scripts/hub/hub.sh with a test authenticator), N simulated
# students (default 5) who log in and execute chapter 01 at the same time through the hub's API
# (scripts/hub/simulate.py), then checks of what the set-up promises: each student's own copies in
# their home, the kit read-only and the official assignments unreadable for them, their server in a
# memory/CPU-limited cgroup (where this machine lets the hub make one), and a TA account grading a
# student's assignment with the grader.
#
#   bash scripts/hub/test.sh [--students 5] [--chapters 01] [--out file.json] [--prefix rlhf-test]
#   RLHF_FAST=1 is the default here (set RLHF_FAST=0 for default mode).
# As root, on Debian with the kit set up (npm run setup). Not part of npm test (it makes system
# accounts <prefix>-s1... and <prefix>-ta; a few minutes). While it runs, the checkout's official
# assignments, tests and git history are unreadable to other users (hub.sh lock); it restores them.
set -euo pipefail
cd "$(dirname "$0")/../.."
KIT=$(pwd)
students=5 chapters=01 out="" prefix=rlhf-test
while [ $# -gt 0 ]; do
  case "$1" in
    --students) students=$2; shift 2 ;;
    --chapters) chapters=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --prefix) prefix=$2; shift 2 ;;
    *) echo "hub-test: unknown option $1" >&2; exit 2 ;;
  esac
done
export RLHF_FAST=${RLHF_FAST-1}
[ "$RLHF_FAST" = 0 ] && unset RLHF_FAST
mode=$([ -n "${RLHF_FAST:-}" ] && echo fast || echo default)
say() { printf '\033[1mhub-test:\033[0m %s\n' "$*"; }
fail() { printf 'hub-test: FAILED: %s\n' "$*" >&2; exit 1; }
trap 'printf "hub-test: FAILED at line %s: %s\n" "$LINENO" "$BASH_COMMAND" >&2' ERR
[ "$(id -u)" = 0 ] || fail "run as root (the hub starts servers as the students' accounts)"

users=() ; for i in $(seq 1 "$students"); do users+=("$prefix-s$i"); done
ta=$prefix-ta
# A first login every time: the test accounts start with empty homes.
for u in "${users[@]}" "$ta"; do
  if id "$u" >/dev/null 2>&1; then find "/home/$u" -mindepth 1 -delete; fi
done
bash scripts/hub/hub.sh add student "${users[@]}" >/dev/null
bash scripts/hub/hub.sh add ta "$ta" >/dev/null

data=$(mktemp -d /tmp/rlhf-hub-test.XXXXXX)
port=$((18000 + RANDOM % 1000))
export RLHF_HUB_DATA=$data RLHF_HUB_PORT=$port RLHF_HUB_API_PORT=$((port + 1)) RLHF_HUB_PROXY_PORT=$((port + 2))
export RLHF_HUB_AUTH=dummy RLHF_HUB_PASSWORD=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
export RLHF_HUB_TEST_TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
export RLHF_HUB_MEM=3G RLHF_HUB_CPUS=${RLHF_HUB_CPUS:-1}
export RLHF_HUB_STUDENTS=$(IFS=,; echo "${users[*]}") RLHF_HUB_TAS=$ta
bash scripts/hub/hub.sh start >"$data/hub.log" 2>&1 &
hub=$!
cleanup() {
  # hub.sh locked the TA-only files of this checkout (official assignments, tests, git history):
  # a test leaves them as it found them, readable, for npm test's graded kernels.
  for p in assignments test .git; do [ -e "$p" ] && chmod -R o+rX "$p" && chgrp -R root "$p"; done
  kill "$hub" 2>/dev/null || true
  for _ in $(seq 1 30); do kill -0 "$hub" 2>/dev/null || break; sleep 1; done
  cp "$data/hub.log" "${out:-/tmp/rlhf-hub-test}.hub.log" 2>/dev/null || true
  rm -rf "$data"
}
trap cleanup EXIT
for _ in $(seq 1 60); do
  curl -sf "http://127.0.0.1:$port/hub/api" >/dev/null 2>&1 && break
  kill -0 "$hub" 2>/dev/null || { cat "$data/hub.log" >&2; fail "the hub did not start"; }
  sleep 1
done
say "hub on http://127.0.0.1:$port ($(jupyterhub --version)), ${#users[@]} students, chapters $chapters, $mode mode"

/usr/bin/python3 scripts/hub/simulate.py --hub "http://127.0.0.1:$port" --token "$RLHF_HUB_TEST_TOKEN" \
  --password "$RLHF_HUB_PASSWORD" --users "$RLHF_HUB_STUDENTS" --chapters "$chapters" ${out:+--out "$out"} \
  --cell-timeout "${RLHF_CELL_TIMEOUT:-3600}" \
  || { tail -40 "$data/hub.log" >&2; fail "not every student's notebooks executed"; }

# --- what the set-up promises ---------------------------------------------------------------------
s=${users[0]}
for f in notebooks/01-shannon-ngrams.ipynb assignments/ch01-ngram-smoothing.ipynb runs; do
  [ -e "/home/$s/$f" ] || fail "$s has no $f in their home"
done
[ "$(stat -c %U "/home/$s/notebooks/01-shannon-ngrams.ipynb")" = "$s" ] || fail "$s does not own their notebook copy"
# Chapter 02 onwards saves checkpoints: in the student's own runs/.
case ",$chapters," in *,02,*)
  [ -d "/home/$s/runs/$([ "$mode" = fast ] && echo fast || echo course)" ] || fail "$s's run wrote nothing to their runs/" ;;
esac
setpriv --reuid="$s" --regid="$s" --init-groups touch "$KIT/lib/.hub-test" 2>/dev/null && fail "$s can write the shared lib/"
setpriv --reuid="$s" --regid="$s" --init-groups cat "$KIT/assignments/ch01-ngram-smoothing.ipynb" >/dev/null 2>&1 \
  && fail "$s can read the official assignments (solutions)"
say "homes: own notebooks/, assignments/ (released), runs/; lib/ read-only; official assignments unreadable to students"

# The per-user limits: the server of a student (started again) in its cgroup.
curl -sf -X POST -H "Authorization: token $RLHF_HUB_TEST_TOKEN" "http://127.0.0.1:$port/hub/api/users/$s/server" >/dev/null || true
for _ in $(seq 1 60); do pid=$(pgrep -u "$s" -f jupyterhub-singleuser | head -1 || true); [ -n "$pid" ] && break; sleep 1; done
[ -n "${pid:-}" ] || fail "$s's server did not start again"
if grep -q "rlhf-hub-$s" "/proc/$pid/cgroup"; then
  v1=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3}' "/proc/$pid/cgroup" | head -1)
  v2=$(awk -F: '$1 == 0 {print $3}' "/proc/$pid/cgroup" | head -1)
  if [ -n "$v1" ]; then cg=$v1 limit=$(cat "/sys/fs/cgroup/memory$v1/memory.limit_in_bytes")
  else cg=$v2 limit=$(cat "/sys/fs/cgroup$v2/memory.max"); fi
  [ "$limit" = $((3 * 2**30)) ] || fail "$s's memory limit is $limit bytes, not RLHF_HUB_MEM=3G"
  say "limits: $s's server runs in cgroup $cg, memory limit $((limit / 2**20)) MiB"
else
  say "limits: NOT enforced here ($s's server is not in an rlhf-hub cgroup; see the hub log)"
fi

# A TA grades a student's work: the student's (released, unanswered) assignment must get 0 points.
sub=$(mktemp -d /tmp/rlhf-hub-sub.XXXXXX); chmod 755 "$sub"; mkdir "$sub/$s"
cp "/home/$s/assignments/ch01-ngram-smoothing.ipynb" "$sub/$s/"; chmod -R a+rX "$sub"
setpriv --reuid="$ta" --regid="$ta" --init-groups env HOME="/home/$ta" PATH="$PATH" \
  npm run --silent grade -- "$sub" --assignment ch01-ngram-smoothing --out "/home/$ta/grades" >"$data/grade.log" 2>&1 \
  || { cat "$data/grade.log" >&2; fail "the TA could not run the grader"; }
row=$(grep "^$s," "/home/$ta/grades/gradebook.csv") || fail "no gradebook row for $s"
col=$(head -1 "/home/$ta/grades/gradebook.csv" | tr ',' '\n' | grep -n '^ch01-ngram-smoothing/total$' | cut -d: -f1)
points=$(echo "$row" | cut -d, -f"$col")
[ "$points" = 0 ] || fail "the unanswered assignment got $points points"
mode=$(grep -o '"sandbox": *"[a-z-]*"' "/home/$ta/grades/results/$s/ch01-ngram-smoothing.json" | head -1 | cut -d'"' -f4)
say "TA $ta graded $s's unanswered ch01 assignment with the grader: $points points, sandbox mode ${mode:-unknown}"
rm -rf "$sub"
say "passed"
