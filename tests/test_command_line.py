"""The command line a new user meets: help without TensorFlow, a quiet start, lazy
topic exports, and the data installer's one owner of `cv2`."""

import importlib
import json
import os
import re
import subprocess
import sys

import pytest

from keras_l11 import command_line, lazy

from conftest import ROOT

JOBS = sorted(f[:-3] for f in os.listdir(os.path.join(ROOT, "train")) if f.endswith(".py") and f != "__init__.py")
TOPICS = ("ntm", "language", "handwriting", "detection", "dense", "video", "captioning", "generative", "robustness")
# TensorFlow's C++ log line: "2026-12-02 01:38:11.091255: I external/...".
TF_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] ", re.M)

HELP_PROBE = """
import contextlib, io, json, sys
from keras_l11.training import cli
from keras_l11.serving import flags as server_flags
out = {}
for module in sys.argv[1:]:
    text = io.StringIO()
    with contextlib.redirect_stdout(text), contextlib.suppress(SystemExit):
        if module == "serving":
            server_flags.main(["--help"])
        else:
            __import__(module, fromlist=["main"]).main(["--help"])
    out[module] = text.getvalue()
out["loaded"] = sorted(m for m in ("tensorflow", "keras", "numpy") if m in sys.modules)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def helps():
    proc = subprocess.run(
        [sys.executable, "-c", HELP_PROBE, *(f"train.{j}" for j in JOBS), "serving"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=ROOT),
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_help_of_every_job_and_the_server_loads_no_tensorflow(helps):
    assert helps["loaded"] == [], f"--help loaded {helps['loaded']}"
    for job in JOBS:
        assert helps[f"train.{job}"].startswith(f"usage: python -m train.{job} "), helps[f"train.{job}"][:200]
    assert helps["serving"].startswith("usage: python -m serving ")


@pytest.mark.parametrize("job", JOBS)
def test_help_lists_every_config_field_with_its_value_in_each_config(helps, job):
    from keras_l11.training.cli import config_fields, override_text

    module = importlib.import_module(f"train.{job}")
    configs = next(v for k, v in vars(module).items() if k.endswith("CONFIGS") and isinstance(v, dict))
    text = helps[f"train.{job}"]
    assert "(default runs" not in text and "(default: None)" not in text  # no doubled or empty defaults
    table = text[text.index("config fields") :].splitlines()
    header = table[1].split()
    assert header == ["field", *configs], header
    rows = {line.split()[0]: line.split()[1:] for line in table[3:] if line.strip()}
    for name, config in configs.items():
        for field, value in config_fields(config):
            assert rows[field][header.index(name) - 1] == override_text(value), (field, name)


def test_override_takes_the_values_the_help_shows():
    from keras_l11.training.cli import config_fields, override_text
    from keras_l11.training.config import apply_overrides
    from keras_l11.video.configs import TWO_STREAM_CONFIGS

    paper = TWO_STREAM_CONFIGS["paper"]
    smoke = TWO_STREAM_CONFIGS["smoke"]
    shown = [f"{field}={override_text(value)}" for field, value in config_fields(paper)]
    assert apply_overrides(smoke, shown) == paper  # every field, nested tuples of booleans included


@pytest.mark.parametrize(
    "environ, argv, want",
    [
        ({}, ["train.ntm"], {"1" if command_line.nvidia_driver_present() else "3"}),
        ({"TF_CPP_MIN_LOG_LEVEL": "0"}, ["train.ntm"], {"0"}),  # the user's own level wins
        ({}, ["train.ntm", "--verbose"], {None}),
    ],
)
def test_the_log_level_is_quiet_unless_the_user_asks(environ, argv, want):
    assert command_line.quiet_tensorflow(environ, argv) in want


@pytest.mark.parametrize(
    "argv, ours",
    [
        (["python", "-m", "train.ntm", "--help"], True),
        (["python", "-m", "serving"], True),
        (["python", "-m", "keras_l11.detection.client", "x.png"], True),
        (["python", "-X", "importtime", "-m", "benchmarks.ntm"], True),
        (["python", "quickstart.py"], True),
        (["python", "-c", "import keras_l11"], False),
        (["python", "my_script.py"], False),
        (["python", "-m", "pytest"], False),
    ],
)
def test_only_the_projects_own_commands_are_quieted(argv, ours):
    assert command_line.is_project_command(argv) == ours


def test_a_job_starts_quietly_and_verbose_shows_tensorflows_lines(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = ROOT
    base = [sys.executable, "-m", "train.ntm", "--config", "smoke", "--epochs", "1", "--no_export"]
    base += ["--progress", "none", "--model_dir", str(tmp_path / "run")]
    quiet = subprocess.run(base, cwd=ROOT, env=env, capture_output=True, text=True)
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    assert not TF_LOG_LINE.search(quiet.stderr), quiet.stderr[-2000:]
    assert "cuda" not in quiet.stderr.lower() and "Traceback" not in quiet.stderr
    assert "default strategy (1 replica)" in quiet.stdout and "_DefaultDistributionStrategy" not in quiet.stdout
    assert "lower is better" in quiet.stdout and "bit errors/sequence" in quiet.stdout  # a captioned table
    loud = subprocess.run([*base, "--verbose"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert loud.returncode == 0 and TF_LOG_LINE.search(loud.stderr), loud.stderr[-2000:]


@pytest.mark.parametrize("topic", TOPICS)
def test_a_topics_lazy_exports_are_its_public_names(topic):
    package = importlib.import_module(f"keras_l11.{topic}")
    exported = lazy.exports_of(package.__file__)
    assert set(package.__all__) == set(exported)
    for name in package.__all__:
        assert getattr(package, name) is getattr(importlib.import_module(exported[name]), name)
    with pytest.raises(AttributeError, match="no attribute"):
        package.NoSuchThing  # noqa: B018


def test_the_data_installer_reports_each_step():
    proc = subprocess.run(
        [sys.executable, "-m", "keras_l11.data.install", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    steps = re.findall(r"^\[(\d)/(\d)\] .+ \(.+\): (present|missing)$", proc.stdout, re.M)
    assert len(steps) == int(steps[0][1]) == 7, proc.stdout
    assert proc.returncode == (1 if any(s[2] == "missing" for s in steps) else 0)


def test_ximgproc_survives_a_reinstall_of_the_projects_requirements():
    """With the installer's placeholder in place, reinstalling the project (which
    requires tf-models-official, which requires the plain OpenCV wheel) and upgrading
    that wheel leave `cv2` to the contrib wheel alone."""
    from keras_l11.data import install

    if install.cv2_owners() != [install.CONTRIB_OPENCV]:
        pytest.skip("the data installer has not run here: python -m keras_l11.data.install")
    pip = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    for command in ([*pip, "-e", ROOT], [*pip, "-U", install.PLAIN_OPENCV]):
        proc = subprocess.run(command, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-2000:]
    probe = "import cv2; cv2.ximgproc.segmentation.createSelectiveSearchSegmentation(); print(cv2.__version__)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0
    assert install.cv2_owners() == [install.CONTRIB_OPENCV]
    check = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
    assert "opencv" not in check.stdout, check.stdout


def test_the_client_makes_example_inputs_from_a_signature_and_names_a_missing_file(tmp_path):
    import argparse

    import numpy as np

    from keras_l11.serving import client

    signature = {"inputs": {"sequence": ("DT_FLOAT", (-1, -1, 9)), "text": ("DT_STRING", (-1,))}, "outputs": {}}
    made = client.example_inputs(signature, given={"text": None}, size=5)
    assert set(made) == {"sequence"} and made["sequence"].shape == (1, 5, 9) and made["sequence"].dtype == np.float32
    assert set(np.unique(made["sequence"])) <= {0.0, 1.0}
    np.savez(tmp_path / "batch.npz", sequence=made["sequence"])
    name, value = client._parse_input(f"sequence=@{tmp_path / 'batch.npz'}")
    np.testing.assert_array_equal(value, made["sequence"])
    with pytest.raises(argparse.ArgumentTypeError, match=r"no file 'batch.npy' \(make one with --example"):
        client._parse_input("sequence=@batch.npy")
    with pytest.raises(argparse.ArgumentTypeError, match="holds \\['sequence'\\], not 'other'"):
        client._parse_input(f"other=@{tmp_path / 'batch.npz'}")
    proc = subprocess.run(
        [sys.executable, "-m", "keras_l11.serving.client", "--model", "m", "--input", "sequence=@batch.npy"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("python -m keras_l11.serving.client: error: argument")
