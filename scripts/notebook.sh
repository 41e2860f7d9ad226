#!/usr/bin/env bash
# Start Jupyter Notebook at the repository with this checkout's tslab kernel ready ("TypeScript").
# Open notebooks/01-shannon-ngrams.ipynb and run cells with Shift+Enter.
# RLHF_FAST=1 npm run notebook gives the fast (small) versions of every experiment.
# Extra arguments go to Jupyter, e.g. npm run notebook -- --no-browser --port 8890
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build/jupyter/share/jupyter/kernels/tslab/kernel.json ]; then
  echo "notebook: the tslab kernel is not set up yet; run 'bash scripts/setup.sh' (or 'npm start') first" >&2
  exit 1
fi
export JUPYTER_PATH="$PWD/build/jupyter/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
export PATH="$PWD/node_modules/.bin:$PATH"
args=(--notebook-dir="$PWD")
# Jupyter refuses to run as root without --allow-root (containers, cloud machines).
[ "$(id -u)" = 0 ] && args+=(--allow-root)
mode=$(echo "${RLHF_FAST:-}" | grep -qiE '^(1|true|yes)$' && echo "fast mode (RLHF_FAST=$RLHF_FAST)" || echo "default mode")  # as lib/core/mode.ts reads it
cat <<EOF
notebook: starting Jupyter at $PWD, $mode.
notebook: open the http://127.0.0.1:... URL printed below (it carries a login token), then
          notebooks/01-shannon-ngrams.ipynb. Stop the server with Ctrl-C twice.
EOF
# tslab logs "unknown msg_type: comm_open" for each notebook it opens (the page offers widget
# channels tslab does not implement; harmless), so that line is dropped from the log. The filter
# ignores Ctrl-C and ends when Jupyter closes its output.
exec /usr/bin/jupyter notebook "${args[@]}" "$@" 2> >(trap '' INT; grep -v --line-buffered 'unknown msg_type: comm_open' >&2)
