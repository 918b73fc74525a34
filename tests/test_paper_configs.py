"""Every `paper` configuration of every job and variant, built at the paper's size and
stepped on this CPU (`benchmarks/paper_configs.py` has the rows and prints them as a
table): the parameter count against the paper's where it gives one, two optimiser
steps at the paper's input shapes on a tiny batch of the real data set's format in
float32 (then the export and one call of every exported signature) and with
`--mixed_precision` (finite losses, no dtype error: training and evaluation in 16 bits;
bfloat16 on this CPU, float16 on a GPU)."""

import threading
import time

import background_checks
import pytest
from background_checks import BackgroundChecks

from benchmarks import paper_configs

RUNS = {run.label: run for run in paper_configs.RUNS}


@pytest.fixture(scope="module")
def checked(request):
    """`label -> (result, the process's output)`: a job's rows run together in one
    process, and the light jobs' rows in one (`paper_configs.job_groups`: TensorFlow
    imported once per process, not per row). The groups started beside the rest of
    the suite as the session began (tests/background_checks.py)."""
    from conftest import PAPER_CHECKS

    return request.config.stash[PAPER_CHECKS].result


@pytest.mark.parametrize("label", list(RUNS))
def test_the_paper_configuration_builds_steps_and_exports(label, checked):
    run = RUNS[label]
    result, output = checked(label)
    paper_configs.keep_result(result)  # for `python -m benchmarks.paper_configs --from_results DIR`
    for name in ("float32", "mixed"):
        assert "error" not in result[name], f"{label} ({name}): {result[name].get('traceback') or output[-3000:]}"
    assert result["float32"]["signatures"], label
    if run.paper_parameters:
        ours = result["float32"]["parameters"]
        assert result["parameters_ok"], (
            f"{label}: {ours:,} parameters, {result['ratio']:.3f} of the paper's "
            f"{run.paper_parameters:,} ({run.source})"
        )


def test_a_jobs_rows_share_one_process_and_the_light_jobs_share_one():
    jobs = {run.job for run in paper_configs.RUNS}
    assert set(paper_configs.LIGHT_JOBS) <= jobs, set(paper_configs.LIGHT_JOBS) - jobs
    groups = paper_configs.job_groups(paper_configs.RUNS)
    assert sorted(label for labels in groups for label in labels) == sorted(RUNS)
    for job in jobs:
        holding = [labels for labels in groups if any(RUNS[label].job == job for label in labels)]
        assert len(holding) == 1, job
    [light] = [labels for labels in groups if RUNS[labels[0]].job in paper_configs.LIGHT_JOBS]
    assert {RUNS[label].job for label in light} == set(paper_configs.LIGHT_JOBS)


def test_the_documented_paper_commands_parse_and_cover_every_job(monkeypatch):
    """Each `python -m train.<job> ... --config paper` command on the paper
    configurations page parses with its job's flags, and every job has one."""
    import importlib
    import os
    import re
    import shlex

    from keras_l11.training import cli

    from conftest import ROOT

    with open(os.path.join(ROOT, "docs", "paper", "index.md")) as f:
        page = f.read()
    commands = re.findall(r"`(python -m train\.\w+[^`]*--config paper[^`]*)`", page)
    parsed, real_parse = [], cli.parse_flags

    class Parsed(Exception):
        pass

    def parse_only(*args, **kwargs):
        parsed.append(real_parse(*args, **kwargs))
        raise Parsed

    monkeypatch.setattr(cli, "parse_flags", parse_only)
    jobs = set()
    for command in commands:
        argv = shlex.split(command)
        with pytest.raises(Parsed):
            importlib.import_module(argv[2]).main(argv[3:])
        assert parsed[-1].config == "paper", command
        jobs.add(argv[2])
    assert jobs == {run.job for run in paper_configs.RUNS}


def test_background_groups_start_while_their_memory_is_free_and_all_once_a_test_asks(tmp_path):
    calls, first = [], threading.Event()

    def run_group(labels, folder, background, started):
        calls.append((labels[0], background))
        first.set()
        return {label: ({"ok": True}, "") for label in labels}

    need = {"huge": float("inf"), "small": 0.0}
    checks = BackgroundChecks([["huge"], ["small"]], str(tmp_path), run_group, lambda g: need[g[0]], growth_gib=0)
    assert first.wait(10)  # the group that fits goes first, in the background
    assert checks.result("huge") == ({"ok": True}, "")  # never enough memory: asked, it runs in the foreground
    assert checks.result("small") == ({"ok": True}, "")
    assert calls == [("small", True), ("huge", False)] and checks.ran_in_background == ["small"]


def test_a_background_group_killed_by_a_signal_runs_again_in_the_foreground_once_asked(tmp_path, monkeypatch):
    monkeypatch.setattr(background_checks, "POLL_SECONDS", 0.1)
    calls, first = [], threading.Event()

    def run_group(labels, folder, background, started):
        calls.append(background)
        first.set()
        return {"a": ({"signal": "SIGKILL"} if background else {"ok": True}, "")}

    checks = BackgroundChecks([["a"]], str(tmp_path), run_group, lambda g: 0.0, growth_gib=0)
    assert first.wait(10)
    time.sleep(0.5)  # killed, it waits for a test to ask
    assert calls == [True]
    assert checks.result("a") == ({"ok": True}, "")
    assert calls == [True, False] and checks.killed_in_background == ["a"] and checks.ran_in_background == []


def test_every_job_outside_the_light_group_has_its_own_memory_peak_and_no_other_has_one():
    jobs = {run.job for run in paper_configs.RUNS} - set(paper_configs.LIGHT_JOBS)
    assert set(paper_configs.PEAK_GIB) == jobs
    for labels in paper_configs.job_groups(paper_configs.RUNS):
        assert paper_configs.group_peak_gib(labels) > 0, labels
