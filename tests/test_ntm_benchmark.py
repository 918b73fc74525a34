"""The NTM benchmark's bookkeeping: runs trained in parts (`--extend`) and
parts of the benchmark that write the same results file."""

import json
import os

import pytest

from benchmarks import ntm


def write_json(path, data):
    with open(path, "w") as f:
        json.dump(data, f)


def read_json(path):
    with open(path) as f:
        return json.load(f)


def job_summary(final_step, train_seconds, reached, errors_at_120):
    """What `train.ntm` writes to summary.json, cut to what the benchmark reads."""
    row = lambda errors: {"bit_errors_per_sequence": errors, "bits_per_sequence": 2 * errors, "loss": errors}  # noqa: E731
    return {
        "final_step": final_step,
        "train_seconds": train_seconds,
        "target": {"metric": "val_bit_errors_per_sequence", "below": 0.1, "reached": reached},
        "evaluation": {"as trained": row(0.0), "length 120": row(errors_at_120)},
    }


def finished_run(runs_dir, name, minutes, summary):
    model_dir = os.path.join(runs_dir, name)
    os.makedirs(model_dir)
    write_json(os.path.join(model_dir, "benchmark.json"), {"minutes": minutes, "stop_at_target": False})
    write_json(os.path.join(model_dir, "summary.json"), summary)
    return model_dir


def test_an_extended_run_keeps_its_first_convergence_and_reports_its_last_evaluation(tmp_path):
    runs, results = str(tmp_path / "runs"), str(tmp_path / "ntm.json")
    model_dir = finished_run(
        runs, "copy-feedforward_paper-s2", 20, job_summary(16000, 1284.7, {"step": 3000, "seconds": 239.5}, 7.15)
    )
    ntm.main(["--report", "--runs_dir", runs, "--results", results, "--figures", str(tmp_path)])

    assert ntm.start_extension(model_dir, 60) == 40
    assert read_json(os.path.join(model_dir, "benchmark.json"))["parts"] == [20, 40]
    assert os.path.exists(os.path.join(model_dir, "summary-20min.json"))
    assert ntm.start_extension(model_dir, 60) == 40  # stopped before its job wrote a summary: the part again
    with pytest.raises(SystemExit, match="extension to 60 minutes was stopped"):
        ntm.start_extension(model_dir, 90)
    # the resumed job meets the target again at its first validation, 39 s in
    write_json(
        os.path.join(model_dir, "summary.json"), job_summary(50000, 2400.0, {"step": 16500, "seconds": 39.0}, 0.0)
    )
    ntm.main(["--report", "--runs_dir", runs, "--results", results, "--figures", str(tmp_path)])

    entry = read_json(results)["runs"]["copy-feedforward_paper-s2"]
    assert entry["minutes"] == 60 and entry["final_step"] == 50000
    assert entry["reached"] == {"step": 3000, "seconds": 239.5}
    assert entry["evaluation"]["length 120"]["bit_errors"] == 0.0
    assert os.path.exists(tmp_path / "copy_generalisation.png")


def test_convergence_in_a_later_part_counts_the_earlier_parts_time(tmp_path):
    model_dir = finished_run(str(tmp_path), "repeat_copy-feedforward_paper-s0", 30, job_summary(9000, 1800.0, None, 50))
    ntm.start_extension(model_dir, 60)
    summary = job_summary(18000, 1790.0, {"step": 12500, "seconds": 700.0}, 0.5)
    assert ntm.first_reached(model_dir, summary) == {"step": 12500, "seconds": 2500.0}


def test_a_group_of_runs_shows_the_range_of_their_budgets():
    assert ntm.budgets([30, 20, 60]) == "20-60" and ntm.budgets([60, 60]) == "60"


def test_extension_needs_a_larger_budget_and_a_full_run(tmp_path):
    model_dir = finished_run(str(tmp_path), "copy-feedforward-s0", 60, job_summary(20000, 3600.0, None, 3))
    with pytest.raises(SystemExit, match="60 minutes already"):
        ntm.start_extension(model_dir, 60)
    write_json(os.path.join(model_dir, "benchmark.json"), {"minutes": 15, "stop_at_target": True})
    with pytest.raises(SystemExit, match="convergence-only"):
        ntm.start_extension(model_dir, 60)
    assert os.path.exists(os.path.join(model_dir, "summary.json"))  # nothing moved


def test_a_part_keeps_the_runs_another_part_wrote_meanwhile(tmp_path):
    results_path = str(tmp_path / "ntm.json")
    write_json(results_path, {"runs": {}})
    ours = {"runs": {"copy-feedforward-s0": ntm.record("copy", "feedforward", 0, 60, str(tmp_path), 1, "", False)}}
    # after this part read the file, another part recorded a run of its own
    theirs = ntm.record("copy", "feedforward", 1, 60, str(tmp_path), 1, "", False)
    write_json(results_path, {"runs": {"copy-feedforward-s1": theirs}})
    ntm.save_runs(results_path, ours, ["copy-feedforward-s0"])
    assert set(read_json(results_path)["runs"]) == {"copy-feedforward-s0", "copy-feedforward-s1"}
    assert set(ours["runs"]) == {"copy-feedforward-s0", "copy-feedforward-s1"}


def test_a_part_never_writes_back_an_older_split_than_the_files(tmp_path):
    results_path = str(tmp_path / "ntm.json")
    newer = {"final_step": 900, "sets": {"length 10, repeats 12": {}, "length 10, repeats 20": {}}}
    write_json(results_path, {"runs": {}, "repeat_errors": {"repeat_copy-curriculum_paper-s0": newer}})
    # a training part read the file before that split and saves its own run
    ours = {"runs": {}, "repeat_errors": {"repeat_copy-curriculum_paper-s0": {"final_step": 900, "sets": {}}}}
    ours["runs"]["copy-feedforward-s0"] = ntm.record("copy", "feedforward", 0, 60, str(tmp_path), 1, "", False)
    ntm.save_runs(results_path, ours, ["copy-feedforward-s0"])
    assert read_json(results_path)["repeat_errors"]["repeat_copy-curriculum_paper-s0"] == newer
    # a part that splits a run writes that split
    ours["repeat_errors"]["repeat_copy-lstm-s1"] = {"final_step": 5, "sets": {}}
    ntm.save_runs(results_path, ours, [], splits=["repeat_copy-lstm-s1"])
    on_disk = read_json(results_path)["repeat_errors"]
    assert on_disk["repeat_copy-lstm-s1"]["final_step"] == 5 and on_disk["repeat_copy-curriculum_paper-s0"] == newer


def test_extend_refuses_runs_that_are_not_finished(tmp_path, capsys):
    runs, results = str(tmp_path / "runs"), str(tmp_path / "ntm.json")
    args = ["--tasks", "copy", "--variants", "feedforward", "--seeds", "7", "--minutes", "60", "--extend"]
    with pytest.raises(SystemExit):
        ntm.main([*args, "--runs_dir", runs, "--results", results, "--figures", str(tmp_path)])
    assert "not finished: ['copy-feedforward-s7']" in capsys.readouterr().err


def test_repeat_errors_split_each_runs_checkpoint_and_add_up_to_its_bit_errors(tmp_path):
    """`--repeat_errors` rebuilds a run's model from its folder, loads its
    checkpoint and splits the errors on the job's evaluation sequences."""
    import dataclasses

    import keras
    import numpy as np

    from keras_l11.ntm.configs import CONFIGS, build_model, make_task
    from keras_l11.ntm.metrics import bit_errors_per_sequence

    smoke = CONFIGS["smoke"]
    config = dataclasses.replace(smoke, ntm=dataclasses.replace(smoke.ntm, controller="feedforward"), eval_batches=1)
    task = make_task("repeat_copy", config)
    keras.utils.set_random_seed(3)
    model = build_model("ntm_feedforward", task, config)
    runs, results = str(tmp_path / "runs"), str(tmp_path / "ntm.json")
    summary = job_summary(600, 30.0, None, 0.0)
    summary.update(train_config=dataclasses.asdict(config), global_batch_size=2)
    model_dir = finished_run(runs, "repeat_copy-feedforward-s0", 1, summary)
    os.makedirs(os.path.join(model_dir, "backup"))
    model.save_weights(os.path.join(model_dir, "backup", "latest.weights.h5"))

    ntm.main(["--repeat_errors", "--runs_dir", runs, "--results", results, "--figures", str(tmp_path)])

    split = read_json(results)["repeat_errors"]["repeat_copy-feedforward-s0"]
    assert split["final_step"] == 600
    for sizes in ntm.REPEAT_SPLIT_SETS:
        s = split["sets"][ntm.split_set_name(sizes)]
        assert len(s["data_errors_per_repeat"]) == sizes["repeats"]
        expected = np.mean([bit_errors_per_sequence(y, model(x)) for x, y in task.eval_dataset(2, 1, **sizes)])
        total = sum(s["data_errors_per_repeat"]) + s["end_marker_errors"] + s["final_step_data_errors"]
        assert total == pytest.approx(float(expected), abs=0.05)
    text = (tmp_path / "ntm.txt").read_text()
    assert "where the bit errors per sequence go" in text and "feedforward-s0" in text
    assert (tmp_path / "repeat_copy_addressing.png").stat().st_size > 10_000
