"""Shared fixtures. TensorFlow is imported once per test process; jobs that
must configure devices before TensorFlow starts run in subprocesses."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def run_job(args, cwd=ROOT, env=None, timeout=600, check=True):
    """Runs `python -m <args>` in a fresh process; returns the CompletedProcess."""
    full_env = dict(os.environ, PYTHONPATH=ROOT, **(env or {}))
    proc = subprocess.run(
        [sys.executable, "-m", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


def read_summary(model_dir):
    with open(os.path.join(model_dir, "summary.json")) as f:
        return json.load(f)


@pytest.fixture(scope="session")
def smoke_ntm_copy(tmp_path_factory):
    """One in-process smoke training run of the NTM on the copy task."""
    from train import ntm

    out = tmp_path_factory.mktemp("smoke_ntm_copy")
    summary = ntm.main(
        [
            "--config",
            "smoke",
            "--task",
            "copy",
            "--model",
            "ntm",
            "--intra_op_threads",
            "0",
            "--inter_op_threads",
            "0",  # TF is already running in-process
            "--model_dir",
            str(out / "run"),
            "--export_dir",
            str(out / "saved_models"),
            "--serving_config",
            str(out / "serving" / "models.config"),
            "--verbose",
            "0",
        ]
    )
    return {"summary": summary, "dir": out}
