#!/usr/bin/env bash
# One-time (and idempotent) set-up of a fresh Debian machine with Node 20+ for the course:
#   1. Debian packages: Jupyter (nbconvert, nbclient, notebook) on /usr/bin/python3, OpenBLAS
#      headers for the native kernels, Chromium for the labeling page's browser test.
#   2. npm packages from package-lock.json.
#   3. The native BLAS kernels for TensorFlow.js's CPU backend (skipped cleanly without a compiler/BLAS).
#   4. The tslab kernel spec, written inside this checkout (build/jupyter) so it always starts
#      this checkout's tslab; scripts/jupyter-env.sh points Jupyter at it.
# Nothing here needs a network other than the npm registry and Debian's mirrors.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
say() { printf '\033[1msetup:\033[0m %s\n' "$*"; }

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "setup: Node.js 20 or newer is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# --- 0. not Debian or Ubuntu: say what to do instead ---------------------------------------------
# macOS, Windows, Fedora...: no apt-get for the packages below, and usually no Jupyter on
# /usr/bin/python3 (the course runner and the kernel spec use that one).
if ! command -v apt-get >/dev/null 2>&1 \
   && ! /usr/bin/python3 -c 'import nbclient, nbconvert, notebook, ipykernel' 2>/dev/null; then
  cat >&2 <<EOF
setup: this is not Debian or Ubuntu ($(uname -s), no apt-get), and /usr/bin/python3 has no Jupyter,
       so the set-up cannot install what the course needs here. Run the course in its container
       instead (Docker Desktop or Podman; README, "Any laptop, any class"):
         docker build -t rlhf-course .
         docker run --rm -p 8888:8888 -v "\$PWD/rlhf-work:/home/student/work" rlhf-course
       then open the http://127.0.0.1:8888/?token=... address it prints. In VS Code: "Reopen in
       Container" (.devcontainer/).
EOF
  exit 1
fi

# --- 1. Debian packages -----------------------------------------------------------------------
need=()
/usr/bin/python3 -c 'import nbclient, nbconvert, nbformat, jupyter_client' 2>/dev/null \
  || need+=(jupyter-nbconvert jupyter-client python3-nbclient python3-nbformat)
[ -x /usr/bin/jupyter-notebook ] || need+=(jupyter-notebook)
/usr/bin/python3 -c 'import ipykernel' 2>/dev/null || need+=(python3-ipykernel)
[ -f /usr/include/x86_64-linux-gnu/cblas.h ] || [ -f /usr/include/cblas.h ] \
  || ls /usr/include/*/cblas*.h >/dev/null 2>&1 || need+=(libopenblas-dev)
command -v g++ >/dev/null || need+=(g++ make)
[ -x /usr/bin/chromium ] || need+=(chromium)          # the labeling page's browser test
command -v bwrap >/dev/null || need+=(bubblewrap)   # the autograder's sandbox
command -v zip >/dev/null || need+=(zip)             # npm run gradescope writes the autograder zip
command -v unzip >/dev/null || need+=(unzip)         # its test unpacks it
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian packages: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    say "missing Debian packages (install them as root): ${need[*]}"
  fi
fi

# --- 2. npm packages --------------------------------------------------------------------------
say "installing npm packages"
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  npm install --no-audit --no-fund --loglevel=error
fi

# --- 3. native kernels ------------------------------------------------------------------------
if [ -f scripts/build-native.sh ]; then
  bash scripts/build-native.sh || say "native kernels not built; TensorFlow.js will use a slower backend"
fi

# --- 4. tslab kernel spec inside the checkout ---------------------------------------------------
mkdir -p build/jupyter
node_modules/.bin/tslab install --python=/usr/bin/python3 \
  --binary="$ROOT/node_modules/.bin/tslab" --prefix="$ROOT/build/jupyter" >/dev/null 2>&1
test -f build/jupyter/share/jupyter/kernels/tslab/kernel.json \
  || { echo "setup: the tslab kernel spec was not written (build/jupyter)" >&2; exit 1; }
say "ready: tslab kernel at build/jupyter, $(node -v), $(/usr/bin/python3 -c 'import nbclient; print("nbclient", nbclient.__version__)')"
