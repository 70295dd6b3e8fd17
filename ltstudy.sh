#!/usr/bin/env bash
# ltstudy — set up and run the study, or its tests, from nothing.
#   ./ltstudy.sh study [PROFILE]   set up, run every notebook of PROFILE (default: quick), render outputs/PROFILE/
#   ./ltstudy.sh test              set up, then pytest for ltlib and nbval for every notebook (smoke defaults)
#   ./ltstudy.sh lab [ARGS]        JupyterLab on notebooks/ with the project's kernel (the venv's python; set up
#                                  first if JupyterLab is missing); ARGS go to jupyter lab (e.g. --no-browser --port 8890)
#   ./ltstudy.sh setup             only set up .venv
# Environment: LTSTUDY_VENV (default .venv), LTSTUDY_TORCH (pip specs of torch and torchvision, default
#   "torch==2.14.1 torchvision==0.29.1": a matched pair, the default PyPI builds, which also run on a CPU).
set -euo pipefail
cd "$(dirname "$0")"
VENV=${LTSTUDY_VENV:-.venv}
PY="$VENV/bin/python"

# pip's notes about index locations this machine's pip configuration names but lacks: noise in a setup log.
quiet_pip() { "$PY" -m pip "$@" 2> >(grep -v "^WARNING: Location '.*' is ignored" >&2); }

setup() {
  [ -x "$PY" ] || python3 -m venv "$VENV"
  if ! "$PY" -c "import torch, torchvision" 2>/dev/null; then
    # shellcheck disable=SC2086  # two specs, split on purpose
    quiet_pip install -q ${LTSTUDY_TORCH:-torch==2.14.1 torchvision==0.29.1}
  fi
  quiet_pip install -q -e ".[dev,notebooks]"
  if [ ! -d /usr/share/datasets/fashion-mnist ] && [ ! -d data/fashion-mnist ]; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
      apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 ||
        { apt-get update -q >/dev/null && apt-get install -y -q dataset-fashion-mnist >/dev/null; }
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      sudo apt-get install -y -q dataset-fashion-mnist >/dev/null
    else
      echo "note: Fashion-MNIST not found; install the Debian package dataset-fashion-mnist or put the idx files in data/fashion-mnist/" >&2
    fi
  fi
}

cmd=${1:-study}
case "$cmd" in
  setup) setup ;;
  study) setup; exec "$PY" -m ltlib.study --profile "${2:-quick}" ;;
  lab)
    shift
    [ -x "$VENV/bin/jupyter-lab" ] || setup
    # The venv's kernel specs before any user-level ones; jupyter_client runs a spec's "python" as the server's
    # own interpreter, so the notebooks' python3 kernel is this venv's python (with ltlib installed in it).
    export JUPYTER_PREFER_ENV_PATH=1
    root_ok=(); [ "$(id -u)" = 0 ] && root_ok=(--allow-root)    # containers often run as root
    exec "$PY" -m jupyterlab --ServerApp.root_dir="$PWD/notebooks" "${root_ok[@]}" "$@" ;;
  test)
    setup
    # Every run the tests train goes to a temporary run store: outputs/runs stays as it was (a test checks it).
    LTSTUDY_RUNS=$(mktemp -d "${TMPDIR:-/tmp}/ltstudy-test-runs.XXXXXX"); export LTSTUDY_RUNS
    trap 'rm -rf "$LTSTUDY_RUNS"' EXIT
    "$PY" -m pytest tests notebooks --nbval-lax --nbval-cell-timeout=1800 -q -p no:cacheprovider --durations=40 ;;
  *) echo "usage: $0 study [PROFILE] | test | lab [ARGS] | setup" >&2; exit 2 ;;
esac
