#!/bin/sh
# The image's entrypoint (under tini): prepares the student's work folder, points Jupyter at the kit's
# tslab kernel, then runs the command: `rlhf-notebook` (the default: Jupyter Notebook on port 8888
# serving the work folder) or any other command as given (Binder's and JupyterHub's own
# `jupyter notebook ...` / `jupyterhub-singleuser ...`, `bash`, `npm test` ...).
set -eu
kit=${RLHF_KIT:-/opt/rlhf}
work=${RLHF_WORK:-$HOME/work}
# With `docker run --user <uid>` (a Linux host whose uid is not 1000) HOME is not ours to write:
# Jupyter keeps its runtime files in a home of its own then.
if [ ! -w "$HOME" ]; then
  export HOME="/tmp/home-$(id -u)"
  mkdir -p "$HOME"
fi
export JUPYTER_PATH="${JUPYTER_PATH:+$JUPYTER_PATH:}$kit/build/jupyter/share/jupyter"
export PATH="$kit/node_modules/.bin:$PATH"
if [ -f "$work/package.json" ] && [ -d "$work/lib" ]; then
  : # the work folder is a checkout of the kit (the dev container): it is its own workspace
else
  export RLHF_RUNS="${RLHF_RUNS:-$work/runs}"
  "$kit/scripts/container/workspace.sh" fill "$work"
fi
if [ "${1:-rlhf-notebook}" = rlhf-notebook ]; then
  [ $# -gt 0 ] && shift
  ip=--ip=0.0.0.0 port=--port=8888  # unless given: `docker run ... rlhf-course rlhf-notebook --port=9999`
  for a in "$@"; do
    case "$a" in --ip|--ip=*) ip= ;; --port|--port=*) port= ;; esac
  done
  set -- jupyter notebook $ip $port --no-browser --notebook-dir="$work" "$@"
  [ "$(id -u)" = 0 ] && set -- "$@" --allow-root
  echo "rlhf: the kit is in $kit (read-only); your work is in $work (notebooks/, assignments/, runs/)."
  echo "rlhf: open the http://127.0.0.1:...?token=... address printed below, then notebooks/01-shannon-ngrams.ipynb."
fi
exec "$@"
