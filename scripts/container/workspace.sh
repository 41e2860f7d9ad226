#!/bin/sh
# A student's workspace next to a shared, read-only install of the kit (a container image, a
# JupyterHub server). Used by the container's entrypoint and by the hub's spawner.
#
#   workspace.sh link ROOT   ROOT gets package.json, lib/, node_modules/ and data/ as symbolic links
#                            to the kit, so that from any folder below ROOT `import "rlhf"` resolves
#                            (Node and tslab's type-checker walk up to ROOT/node_modules) and the
#                            library finds the repository root (lib/mode.ts findRepoRoot).
#   workspace.sh fill WORK   WORK gets its own copies of the notebooks (notebooks/), the released
#                            assignments (assignments/) and an empty runs/. Run at every start: it
#                            adds what is new in the kit and never overwrites a file the student has.
#
# The kit is $RLHF_KIT (default: two folders above this script). WORK must lie below a linked ROOT
# (or be ROOT itself); runs/ in WORK is found through RLHF_RUNS when WORK is not ROOT.
set -eu
kit=${RLHF_KIT:-$(cd "$(dirname "$0")/../.." && pwd)}
die() { echo "workspace: $*" >&2; exit 1; }
[ -f "$kit/package.json" ] && [ -d "$kit/lib" ] || die "no kit at $kit (set RLHF_KIT)"
[ $# -eq 2 ] || die "usage: workspace.sh link ROOT | fill WORK"
target=$2
mkdir -p "$target" 2>/dev/null || true
[ -d "$target" ] && [ -w "$target" ] \
  || die "$target is not a writable folder for uid $(id -u) (a mounted folder owned by another user? run the container with --user \$(id -u):\$(id -g), or chown the folder)"
case "$1" in
  link)
    for name in package.json lib node_modules data; do
      ln -sfn "$kit/$name" "$target/$name"
    done ;;
  fill)
    mkdir -p "$target/notebooks" "$target/runs"
    for f in "$kit"/notebooks/*.ipynb "$kit"/notebooks/*.md; do
      [ -e "$f" ] && [ ! -e "$target/notebooks/${f##*/}" ] && cp "$f" "$target/notebooks/"
    done
    if [ -d "$kit/release" ]; then
      mkdir -p "$target/assignments"
      for f in "$kit"/release/*; do
        [ -e "$f" ] && [ ! -e "$target/assignments/${f##*/}" ] && cp "$f" "$target/assignments/"
      done
    fi
    true ;;
  *) die "unknown command '$1' (link or fill)" ;;
esac
