"""Shared fixtures. TensorFlow is imported once per test process; jobs that
must configure devices before TensorFlow starts run in subprocesses.

Everything the suite writes goes under one temporary folder, removed when the run
ends: pytest's `tmp_path`s, `$TMPDIR` (TensorFlow's autograph files, every
subprocess's temporary files), the derived caches (`$KERAS_L11_CACHE`: optical flow,
proposals), Keras' and Matplotlib's config folders. Only the installed data sets
(`$KERAS_L11_DATA`, `python -m keras_l11.data.install`) are read from the user's cache,
so `$KERAS_L11_DATA` is fixed first, before `$XDG_CACHE_HOME` moves.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SESSION_DIR = tempfile.mkdtemp(prefix="keras_l11-tests-")
os.environ.setdefault("KERAS_L11_DATA", os.path.join(os.path.expanduser("~"), ".cache", "keras_l11"))
for variable, folder in (
    ("TMPDIR", "tmp"),
    ("KERAS_L11_CACHE", "cache"),
    ("KERAS_HOME", "keras"),
    ("MPLCONFIGDIR", "matplotlib"),
    ("PIP_CACHE_DIR", "pip"),
    ("XDG_CONFIG_HOME", "config"),  # Chromium's profile and crash reports (the web demos' tests)
    ("XDG_CACHE_HOME", "xdg-cache"),  # dconf, fontconfig
):
    os.environ[variable] = os.path.join(SESSION_DIR, folder)
    os.makedirs(os.environ[variable], exist_ok=True)
tempfile.tempdir = None  # read $TMPDIR again
# The data-preparation pipelines that jobs start for their small offline sets run in the
# job's process (Beam's in-memory runner): two worker processes per set would cost seconds
# each. tests/test_data_preparation.py runs them on worker processes explicitly.
os.environ.setdefault("KERAS_L11_PIPELINE_ARGS", "--direct_num_workers=1")

from keras_l11 import command_line  # noqa: E402  (after the environment above, before TensorFlow)

command_line.quiet_tensorflow()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """`tmp_path`s under the session folder (before pytest makes its factory)."""
    if not config.option.basetemp:
        config.option.basetemp = os.path.join(SESSION_DIR, "pytest")


# Where the session keeps the paper configurations' background checks (tests/background_checks.py).
PAPER_CHECKS = pytest.StashKey()
PAPER_CONFIG_TESTS = "test_paper_configs.py"


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session):
    """Starts the checks of the collected paper configurations' groups beside the rest
    of the suite (tests/test_paper_configs.py takes their results)."""
    labels = {_paper_label(item) for item in session.items} - {None}
    if not labels or session.config.option.collectonly:
        return
    from background_checks import BackgroundChecks

    from benchmarks import paper_configs

    groups = [group for group in paper_configs.job_groups(paper_configs.RUNS) if labels & set(group)]
    session.config.stash[PAPER_CHECKS] = BackgroundChecks(groups, SESSION_DIR)


def _paper_label(item):
    """The paper row a collected test checks, or None."""
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("label") if callspec and item.path.name == PAPER_CONFIG_TESTS else None


def pytest_terminal_summary(terminalreporter, config):
    checks = config.stash.get(PAPER_CHECKS, None)
    if checks is not None:
        terminalreporter.write_line(
            f"paper configurations: {len(checks.ran_in_background)} rows checked beside the other tests"
            + (f", {len(checks.killed_in_background)} run again after a kill" if checks.killed_in_background else "")
        )


def pytest_unconfigure(config):
    checks = config.stash.get(PAPER_CHECKS, None)
    if checks is not None:
        checks.stop()
    shutil.rmtree(SESSION_DIR, ignore_errors=True)


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


def free_ports(n):
    """n free TCP ports on 127.0.0.1."""
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def smoke_job(job, out, run_name, *extra):
    """`train.<job>` with the smoke config in this process; its run folder is
    `out/<run_name>`, it exports to `out/saved_models` and registers in
    `out/serving/models.config`. Returns the job's summary."""
    import importlib

    args = ["--config", "smoke", "--progress", "none"]
    args += ["--intra_op_threads", "0", "--inter_op_threads", "0"]  # TF is already running in-process
    args += ["--model_dir", str(out / run_name), "--export_dir", str(out / "saved_models")]
    args += ["--serving_config", str(out / "serving" / "models.config"), *extra]
    return importlib.import_module(f"train.{job}").main(args)


def train_smoke_in_process(out, model, *extra):
    """`train.ntm` on the copy task with the smoke config, in this process."""
    return smoke_job("ntm", out, f"{model}_run", "--task", "copy", "--model", model, *extra)


@pytest.fixture(scope="session")
def smoke_ntm_copy(tmp_path_factory):
    """One in-process smoke training run of the NTM on the copy task."""
    out = tmp_path_factory.mktemp("smoke_ntm_copy")
    return {"summary": train_smoke_in_process(out, "ntm"), "dir": out}


@pytest.fixture(scope="session")
def sequence_exports(tmp_path_factory):
    """Smoke runs of the character and word language models and of the
    translation model, exported side by side under one serving config."""
    out = tmp_path_factory.mktemp("sequence_models")
    summaries = {job: smoke_job(job, out, job) for job in ("char_rnn", "word_rnn", "translate")}
    return {"dir": out, "summaries": summaries, "config": out / "serving" / "models.config"}


@pytest.fixture(scope="session")
def handwriting_export(tmp_path_factory):
    """Smoke runs of the handwriting prediction and synthesis networks, exported
    side by side under one serving config."""
    out = tmp_path_factory.mktemp("handwriting")
    summaries = {net: smoke_job("handwriting", out, net, "--network", net) for net in ("prediction", "synthesis")}
    return {"dir": out, "summaries": summaries, "config": out / "serving" / "models.config"}


@pytest.fixture(scope="session")
def caption_runs(tmp_path_factory):
    """Smoke runs of the captioning and retrieval models, exported under one serving config."""
    out = tmp_path_factory.mktemp("captioning")
    return {
        "dir": out,
        "config": out / "serving" / "models.config",
        "captioning": smoke_job("captioning", out, "captioning"),
        "retrieval": smoke_job("retrieval", out, "retrieval"),
    }
