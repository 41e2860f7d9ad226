#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image from the zip
# (unpacked in /autograder/source; Gradescope's Ubuntu base image, network available). Idempotent:
# each step looks first and skips what is already there, so running it again changes nothing.
#   1. Ubuntu/Debian packages: Jupyter's client on /usr/bin/python3, bubblewrap (the sandbox),
#      setpriv, a compiler and OpenBLAS headers (native kernels), curl/xz to fetch Node.
#   2. Node.js 20 (the newest 20.x from nodejs.org, checksum from its SHASUMS256.txt) in /usr/local.
#   3. The kit's npm packages (npm ci from the lock), the native kernels.
#   4. The official notebook readable by root only, then a self-test: it must get full marks here.
set -euo pipefail
SRC="$(cd "$(dirname "$0")" && pwd)"
KIT="$SRC/kit"
say() { printf 'setup: %s\n' "$*"; }
export DEBIAN_FRONTEND=noninteractive

# --- 1. packages ------------------------------------------------------------------------------
need=()
/usr/bin/python3 -c 'import jupyter_client' 2>/dev/null || need+=(python3 python3-jupyter-client)
[ -x /usr/bin/bwrap ] || need+=(bubblewrap)
[ -x /usr/bin/setpriv ] || need+=(util-linux)
command -v g++ >/dev/null && command -v make >/dev/null || need+=(g++ make)
[ -n "$(ls /usr/include/cblas.h /usr/include/*/cblas*.h 2>/dev/null)" ] || need+=(libopenblas-dev)
command -v curl >/dev/null || need+=(curl ca-certificates)
command -v xz >/dev/null || need+=(xz-utils)
if [ ${#need[@]} -gt 0 ]; then
  say "installing packages: ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# bubblewrap before 0.8 lacks --size and --disable-userns: the grader then falls back to mode "uid".
say "$(bwrap --version 2>/dev/null || echo 'bubblewrap missing')"

# --- 2. Node.js 20 ----------------------------------------------------------------------------
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  base=https://nodejs.org/dist/latest-v20.x
  sums=$(curl -fsSL "$base/SHASUMS256.txt")
  tarball=$(printf '%s\n' "$sums" | awk '/node-v20\.[0-9.]+-linux-x64\.tar\.xz$/ {print $2; exit}')
  [ -n "$tarball" ] || { echo "setup: no linux-x64 tarball listed in $base/SHASUMS256.txt" >&2; exit 1; }
  say "installing $tarball into /usr/local"
  tmp=$(mktemp -d)
  curl -fsSL "$base/$tarball" -o "$tmp/$tarball"
  (cd "$tmp" && printf '%s\n' "$sums" | grep " $tarball\$" | sha256sum -c --quiet -)
  tar -xJf "$tmp/$tarball" -C /usr/local --strip-components=1 --no-same-owner
  rm -rf "$tmp"
  hash -r
fi
say "node $(node --version), npm $(npm --version)"

# --- 3. npm packages and native kernels ---------------------------------------------------------
cd "$KIT"
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat node_modules/.rlhf-lock-sha256 2>/dev/null)" != "$lock_sum" ]; then
  say "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > node_modules/.rlhf-lock-sha256
fi
[ -f lib/engine/native/build/Release/rlhf_native.node ] || bash scripts/build-native.sh

# --- 4. official material private, self-test ----------------------------------------------------
chmod 0700 assignments
chmod 0600 assignments/*
node_modules/.bin/tsx grader/cli.ts gradescope-selftest
say "ready"
