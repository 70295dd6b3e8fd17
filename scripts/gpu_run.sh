#!/usr/bin/env bash
# The paper-profile leaderboard on a GPU machine that has torch and torchvision but no papermill, Jupyter or network.
#   scripts/gpu_run.sh OUT [ARGS]     e.g. scripts/gpu_run.sh "$OUT" --override '{dataset: cifar10-jpeg}'
# 1. checks the machine: python, torch, torchvision, the GPU, ltlib's small dependencies (installed from
#    .whl/ without network if missing there: fill it here with `scripts/gpu_run.sh --wheels`); CIFAR-10 (JPEG)
#    is read from data/cifar10-jpeg.tar.gz as it is (carry it there);
# 2. runs python -m ltlib.gpu_run --out OUT ARGS (the leaderboard seed by seed, several runs at once, a tar of runs).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
DEPS="pyyaml filelock tqdm"
if [ "${1:-}" = "--wheels" ]; then                 # on a machine with the registry: the wheels to carry
  "$PY" -m pip download -q -d .whl $DEPS && ls .whl && exit 0
fi
OUT=${1:?usage: scripts/gpu_run.sh OUT [python -m ltlib.gpu_run options]}; shift
"$PY" -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__, \
'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
if ! "$PY" -c "import yaml, filelock, tqdm, pandas, numpy" 2>/dev/null; then
  [ -d .whl ] || { echo "error: pyyaml / filelock / tqdm missing and no .whl/ folder to install them from" >&2; exit 2; }
  "$PY" -m pip install -q --no-index --find-links .whl $DEPS
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"   # ltlib from this tree, not installed
exec "$PY" -m ltlib.gpu_run --out "$OUT" "$@"
