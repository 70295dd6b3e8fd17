"""./ltstudy.sh lab: JupyterLab on notebooks/ with the venv's kernel, started headless and asked over its REST API."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from ltlib.paths import NOTEBOOKS, REPO_ROOT

VENV = Path(sys.prefix)
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (VENV / "bin" / "jupyter-lab").exists() or shutil.which("bash") is None,
                                 reason="JupyterLab is not installed in this environment (ltstudy[notebooks])")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str) -> dict:
    req = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


def test_lab_serves_every_notebook_with_the_project_kernel(tmp_path):
    port, token = _free_port(), "ltstudy-test-token"
    env = {**os.environ, "LTSTUDY_VENV": str(VENV), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTER_CONFIG_DIR": str(tmp_path / "config")}
    proc = subprocess.Popen(
        ["bash", str(REPO_ROOT / "ltstudy.sh"), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline, contents = time.monotonic() + 90, None
        while contents is None:
            try:
                contents = _get(f"{base}/api/contents/", token)
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode(errors="replace")[-2000:]
                assert time.monotonic() < deadline, "JupyterLab did not answer within 90 s"
                time.sleep(1)
        listed = sorted(c["name"] for c in contents["content"] if c["type"] == "notebook")
        assert listed == sorted(p.name for p in NOTEBOOKS.glob("[0-9]*.ipynb")) and len(listed) == 13
        specs = _get(f"{base}/api/kernelspecs", token)
        assert specs["default"] == "python3" and "python3" in specs["kernelspecs"]
        status = _get(f"{base}/api/status", token)
        assert status["started"]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdout.close()
