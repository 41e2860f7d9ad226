#!/usr/bin/env bash
# Start Jupyter at the repository with this checkout's tslab kernel ready ("TypeScript").
# Open notebooks/01-shannon-ngrams.ipynb and run cells with Shift+Enter.
# RLHF_FAST=1 npm run notebook gives the fast (small) versions of every experiment.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build/jupyter/share/jupyter/kernels/tslab/kernel.json ]; then
  echo "notebook: the tslab kernel is not set up yet; run 'bash scripts/setup.sh' (or 'npm start') first" >&2
  exit 1
fi
export JUPYTER_PATH="$PWD/build/jupyter/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
export PATH="$PWD/node_modules/.bin:$PATH"
exec /usr/bin/jupyter notebook --notebook-dir="$PWD" "$@"
