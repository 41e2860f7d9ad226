#!/bin/sh
# Build the optional native kernels (lib/engine/native: N-API addon on OpenBLAS) offline,
# with npm's bundled node-gyp and the installed Node headers. Never fails the
# set-up: without a compiler, Node headers or cblas.h it prints one line and exits 0,
# and the library falls back to the stock tfjs backends.
say() { echo "rlhf: native kernels $*"; }
case "$0" in */*) here="${0%/*}" ;; *) here=. ;; esac
cd "$here/../lib/engine/native" 2>/dev/null || { say "not built: lib/engine/native not found next to $0"; exit 0; }

for tool in cc make python3 node npm dirname; do
  command -v "$tool" >/dev/null 2>&1 || { say "not built: '$tool' not found"; exit 0; }
done
NODEDIR=""
for d in "$(dirname "$(dirname "$(command -v node)")")" /usr /usr/local; do
  [ -f "$d/include/node/node_api.h" ] && { NODEDIR="$d"; break; }
done
[ -n "$NODEDIR" ] || { say "not built: Node headers (include/node/node_api.h) not found"; exit 0; }
CBLAS=""
for h in /usr/include/x86_64-linux-gnu/cblas.h /usr/include/aarch64-linux-gnu/cblas.h \
         /usr/include/openblas/cblas.h /usr/include/cblas.h /usr/local/include/cblas.h; do
  [ -f "$h" ] && { CBLAS="$h"; break; }
done
[ -n "$CBLAS" ] || { say "not built: cblas.h not found (apt-get install libopenblas-dev)"; exit 0; }
GYP="$(dirname "$(dirname "$(command -v npm)")")/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"
[ -f "$GYP" ] || GYP="$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js"
[ -f "$GYP" ] || { say "not built: npm's bundled node-gyp not found"; exit 0; }

# The addon is compiled for this CPU (-march=native): record which, so the loader refuses
# a copy on another CPU (an illegal instruction would kill the process, not throw).
if node "$GYP" rebuild --nodedir="$NODEDIR" >build.log 2>&1; then
  node -e "process.stdout.write(require('./cpu-id.js').cpuId())" >build/Release/cpu-id.txt
  say "built: lib/engine/native/build/Release/rlhf_native.node (OpenBLAS, $CBLAS)"
else
  say "not built: compile failed, see lib/engine/native/build.log"
fi
exit 0
