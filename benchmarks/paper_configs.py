"""Every `paper` configuration, built and stepped on this CPU: the paper-size model's
parameters against the paper's count, two optimiser steps at the paper's input
shapes on a tiny batch of the real data set's format (in float32, and with
`--mixed_precision`), the export, and one call of every exported signature.

The test suite runs the same checks (`tests/test_paper_configs.py`); this script
prints them as one table:

    python -m benchmarks.paper_configs                 # every row (about 20 minutes here)
    python -m benchmarks.paper_configs --only ntm fcn  # rows whose label starts so

A row runs the job itself (`train.<task>.main`) with `--config paper`, the
overrides in `tiny` (batch, evaluation sizes; never the model), `--steps 2`, and
the paper's data written in its own format by `benchmarks.paper_data` (data
sets read through TFDS prepared as `tfds build` leaves them, by TFDS's own writer
for the real builder). Parameters are counted on the model the run built, or, where the
model's size depends on the data (vocabularies), on a model built at the paper's
sizes (`parameters`).
"""

import argparse
import contextlib
import dataclasses
import gc
import importlib
import json
import math
import os
import resource
import shutil
import sys
import tempfile
import time
import traceback

import numpy as np

from benchmarks import paper_data


@dataclasses.dataclass(frozen=True)
class PaperRun:
    """One `paper` configuration of one job (and variant).

    Attributes:
        label: the table's row name.
        job: the module, e.g. "train.fcn".
        args: the job's own flags (the variant).
        tiny: `--override` items that make the run tiny (batch and data sizes only).
        data: the name of a `DATA` writer for the paper's data, or None (generated data).
        paper_parameters: the paper's published parameter count, or None.
        source: where that count is (paper, table) and why ours may differ.
        tolerance: the largest |ours / paper - 1| the test accepts.
        parameters: `() -> int`, the paper-size model's count where the run's model
            is smaller than the paper's (vocabularies built from tiny data).
        examples: `{input name: value}` for exported inputs a random value cannot be.
        example_size: the size of unknown dimensions in signature examples.
        config: the config's name ("paper", or e.g. "paper_atari").
        count: "parameters" (all) or "trainable_parameters" (where the paper's count
            leaves out a fixed layer that this implementation stores differently).
        after: `((label, flag), ...)`: rows whose float32 run folder this row's job
            is given with that flag (`--init_from` for the depth network's fine stage,
            `--spatial_from` and `--temporal_from` for the two-stream fusion step); the
            run of the same process is reused, or the row is run first.
        trains: False for a step that trains no network (the fusion steps): no loss
            to check, no step time.
    """

    label: str
    job: str
    args: tuple = ()
    tiny: tuple = ()
    data: str = None
    paper_parameters: int = None
    source: str = ""
    tolerance: float = 0.0
    parameters: object = None
    examples: tuple = ()
    example_size: int = 4
    config: str = "paper"
    count: str = "parameters"
    after: tuple = ()
    trains: bool = True


# The NTM paper's Tables 1-3; counts differ by the heads' parameterisation and (LSTM) peepholes and skip
# connections, which the paper does not spell out.
NTM_TOLERANCE = 0.2


def _ntm_rows():
    from keras_l11.ntm.configs import PAPER_ROWS

    rows = []
    for (model, task), row in PAPER_ROWS.items():
        rows.append(
            PaperRun(
                f"ntm {model} {task}",
                "train.ntm",
                ("--task", task, "--model", model),
                ("batch_size=2", "eval_batches=1"),
                paper_parameters=row.parameters,
                source=f"Graves et al. 2014, {row.table}",
                tolerance=NTM_TOLERANCE,
            )
        )
    return rows


def _translator_parameters():
    from keras_l11.language.configs import TRANSLATE_CONFIGS

    c = TRANSLATE_CONFIGS["paper"]
    return _count(c.model.build(c.source_vocab, c.target_vocab))


def _count(model):
    """Parameters of a model whose variables may not exist until it is called."""
    return int(sum(int(np.prod(v.shape)) for v in model.weights))


VIDEO_TINY = ("batch_size=2", "test_windows=2", "frames=18")


def _fusion_row(job, *streams):
    """The `--fuse` step of `train.<job>`, from the float32 runs of its stream rows
    (`(variant, flag)` each: the row "<job> <variant>" is given with that flag)."""
    return PaperRun(
        f"{job} fuse",
        f"train.{job}",
        ("--fuse",),
        VIDEO_TINY,
        data="ucf101",
        example_size=24,
        after=tuple((f"{job} {variant}", flag) for variant, flag in streams),
        trains=False,
    )


# ImageNet weights cannot be downloaded here: the same network, randomly initialised.
NO_DOWNLOAD, NO_ENCODER_DOWNLOAD = "model.weights=none", "encoder.weights=none"


RUNS = [
    PaperRun(
        "localization",
        "train.localization",
        tiny=("batch_size=2", NO_DOWNLOAD),
        data="voc2007",
        source="no count in the lecture; VGG16 with two fc-4096 layers",
    ),
    PaperRun(
        "rcnn",
        "train.rcnn",
        tiny=("batch_size=8", "max_proposals=8", "window_count=8", "region_chunk=8", NO_DOWNLOAD),
        data="voc2007",
        source="no count in Girshick et al. 2014; VGG16 (Table 3's O-Net) with C + 1 scores and 4C deltas",
    ),
    *(
        PaperRun(
            f"fcn {variant}",
            "train.fcn",
            ("--variant", variant),
            ("batch_size=1", NO_DOWNLOAD),
            data="sbd_voc2011",
            paper_parameters=134_000_000,
            source="Long et al. 2015, Table 1: FCN-VGG16, 134M parameters (trainable ones: the fixed bilinear "
            "upsampling is one kernel per class pair here, per class in Caffe)",
            tolerance=0.01,
            count="trainable_parameters",
        )
        for variant in ("32s", "16s", "8s")
    ),
    *(
        PaperRun(
            f"depth {stage}",
            "train.depth",
            ("--stage", stage),
            ("batch_size=2",),
            data="nyu",
            after=(("depth coarse", "--init_from"),) if stage == "fine" else (),
            source="Eigen et al. 2014 give layer sizes (Fig. 1), no count: tests/test_dense_prediction.py sums them",
        )
        for stage in ("coarse", "fine")
    ),
    *(
        PaperRun(
            f"two_stream {stream}", "train.two_stream", ("--stream", stream), VIDEO_TINY, data="ucf101", example_size=24
        )
        for stream in ("spatial", "temporal")
    ),
    _fusion_row("two_stream", ("spatial", "--spatial_from"), ("temporal", "--temporal_from")),
    *(
        PaperRun(f"lrcn {modality}", "train.lrcn", ("--modality", modality), VIDEO_TINY, data="ucf101", example_size=24)
        for modality in ("rgb", "flow")
    ),
    PaperRun(
        "lrcn rgb single_frame",
        "train.lrcn",
        ("--modality", "rgb", "--single_frame"),
        VIDEO_TINY,
        data="ucf101",
        example_size=24,
    ),
    _fusion_row("lrcn", ("rgb", "--rgb_from"), ("flow", "--flow_from")),
    *(
        PaperRun(
            f"video_fusion {fusion}",
            "train.video_fusion",
            ("--fusion", fusion),
            VIDEO_TINY,
            data="ucf101",
            example_size=24,
        )
        for fusion in ("single", "early", "late", "slow")
    ),
    PaperRun(
        "video_fusion slow multiresolution",
        "train.video_fusion",
        ("--fusion", "slow", "--multiresolution"),
        VIDEO_TINY,
        data="ucf101",
        example_size=24,
    ),
    PaperRun("captioning", "train.captioning", tiny=("batch_size=2", "min_count=1", NO_ENCODER_DOWNLOAD), data="coco"),
    PaperRun("retrieval", "train.retrieval", tiny=("batch_size=2", "min_count=1", NO_ENCODER_DOWNLOAD), data="coco"),
    PaperRun(
        "char_rnn",
        "train.char_rnn",
        tiny=("batch_size=2", "eval_streams=2"),
        data="enwik8",
        source="Graves 2013, section 3.2 states 21.3M weights, which its own architecture (7 x 700 peephole LSTM, "
        "skip connections, 205 inputs and outputs) does not give (30.5M); not compared",
    ),
    PaperRun("word_rnn", "train.word_rnn", tiny=("batch_size=2", "eval_streams=2"), data="ptb"),
    PaperRun(
        "translate",
        "train.translate",
        tiny=("batch_size=2", "test_pairs=2", "beam_size=2", "max_decode_length=8"),
        data="wmt14",
        paper_parameters=384_000_000,
        source="Sutskever et al. 2014, section 3.4: 384M parameters (160k / 80k vocabularies, built at those sizes)",
        tolerance=0.01,
        parameters=lambda: _translator_parameters(),
    ),
    *_ntm_rows(),
    *(
        PaperRun(
            f"handwriting {network}",
            "train.handwriting",
            ("--network", network),
            ("batch_size=2",),
            data="iam",
            paper_parameters=count,
            source=f"Graves 2013, {section}: {count / 1e6:.1f}M weights",
            tolerance=0.02,
        )
        for network, count, section in (("prediction", 3_400_000, "section 4"), ("synthesis", 3_700_000, "section 5"))
    ),
    PaperRun(
        "darn",
        "train.darn",
        # train_images also cuts the in-training validation to 2,000 images (all 10,000 at batch 2: 5,000 steps)
        tiny=("batch_size=2", "train_images=100", "test_images=10", "eval_samples=2", "convergence_images=2"),
    ),
    PaperRun(
        "darn atari",
        "train.darn",
        tiny=("batch_size=2", "eval_samples=2", "convergence_images=2"),
        data="frames",
        config="paper_atari",
    ),
    *(
        PaperRun(
            f"autoencoder {code}",
            "train.autoencoder",
            ("--code", code),
            ("batch_size=2", "train_images=100", "eval_images=20", "toy_steps=2"),
        )
        for code in ("none", "bottleneck", "sparse", "denoising")
    ),
    PaperRun(
        "adversarial",
        "train.adversarial",
        tiny=(
            "batch_size=2",
            "train_images=500",  # the FC10s are fitted to their optimum by full-batch L-BFGS on these
            "ae_steps=2",
            "attack_train_images=2",
            "attack_test_images=2",
            "max_iterations=2",
        ),
    ),
    *(
        PaperRun(f"fooling {encoding}", "train.fooling", ("--encoding", encoding), ("generations=2", "children=4"))
        for encoding in ("direct", "cppn")
    ),
]


# -- The paper's data, in its own format -------------------------------------------------------------------
# Each writer gets a folder and returns `(extra argv, environment)`: the files it wrote and their flags, or, for
# data sets read through TFDS, the data set prepared in TFDS's own format and `$TFDS_DATA_DIR` pointing at it.
# A row's data are written once, for both of its passes.


def _iam(folder):
    forms = {"train": ["a01-000u"], "validation1": ["c03-081a"], "validation2": ["d04-012b"], "test": ["e05-100z"]}
    paper_data.write_iam_ondb(folder, forms, points=(60, 160))
    return ["--data_path", folder], {}


def _sbd_voc2011(folder):
    sizes = {"2007_000032": (281, 500), "2008_000002": (500, 333), "2007_000039": (375, 500)}
    paper_data.write_sbd(os.path.join(folder, "sbd"), ["2007_000032", "2008_000002"], sizes)
    paper_data.write_voc_devkit(os.path.join(folder, "VOC2011"), {"val": ["2007_000032", "2007_000039"]}, sizes)
    return ["--data_path", os.path.join(folder, "VOC2011"), "--sbd_path", os.path.join(folder, "sbd")], {}


def _enwik8(folder):
    path = paper_data.write_enwik8(os.path.join(folder, "enwik8"), size=20_000)
    return ["--data_path", path], {}


def _ptb(folder):
    paper_data.write_ptb(folder)
    return ["--data_path", folder], {}


def _frames(folder):
    paper_data.write_png_frames(folder, count=12, size=(210, 160))
    return ["--frames", folder], {}


@contextlib.contextmanager
def _environment(**values):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _prepared(name, splits, examples):
    """A writer of TFDS data set `name` prepared as `tfds build` leaves it (`splits`
    each holding `examples()`), read through `$TFDS_DATA_DIR` during the run."""

    def writer(folder):
        data_dir = os.path.join(folder, "tfds")
        made = examples()
        paper_data.write_prepared_tfds(name, data_dir, {split: made for split in splits})
        return [], {"TFDS_DATA_DIR": data_dir}

    return writer


DATA = {
    "iam": _iam,
    "sbd_voc2011": _sbd_voc2011,
    "enwik8": _enwik8,
    "ptb": _ptb,
    "frames": _frames,
    "voc2007": _prepared("voc/2007", ("train", "validation", "test"), lambda: paper_data.voc2007_examples(2)),
    "nyu": _prepared("nyu_depth_v2", ("train", "validation"), lambda: paper_data.nyu_examples(3)),
    "ucf101": _prepared("ucf101/ucf101_1_256", ("train", "test"), lambda: paper_data.ucf101_examples(10)),
    "coco": _prepared("coco_captions", ("train", "val"), lambda: paper_data.coco_caption_examples(3)),
    "wmt14": _prepared("wmt14_translate/fr-en", ("train", "test"), lambda: paper_data.wmt14_examples(4)),
}


# -- One check ------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _policy(mixed):
    import keras

    previous = keras.mixed_precision.dtype_policy()
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def signature_examples(function, overrides=(), size=4, seed=0):
    """`example_inputs` (the export's warmup values) for a loaded signature, as tensors."""
    import tensorflow as tf

    from keras_l11.training.export import example_inputs

    specs = function.structured_input_signature[1]
    values = example_inputs(specs, overrides, size, seed)
    return {name: tf.constant(value, specs[name].dtype) for name, value in values.items()}


def call_signatures(export_path, run):
    """Calls every signature of the SavedModel once; returns their names."""
    import tensorflow as tf

    loaded = tf.saved_model.load(export_path)
    for name, function in loaded.signatures.items():
        outputs = function(**signature_examples(function, run.examples, run.example_size))
        for key, value in outputs.items():
            if value.dtype.is_floating and not np.all(np.isfinite(value.numpy())):
                raise AssertionError(f"{export_path} {name}: output {key} is not finite")
    return sorted(loaded.signatures)


# label -> the run folder of that row's float32 pass in this process (a later stage starts from it)
_RUN_FOLDERS = {}


def _earlier_runs(run, folder):
    """The flags that give `run`'s job the run folders of the rows it comes after,
    running (in float32, without export) those this process has not run."""
    args = []
    for k, (label, flag) in enumerate(run.after):
        if label not in _RUN_FOLDERS:
            earlier = next(r for r in RUNS if r.label == label)
            run_check(earlier, os.path.join(folder, f"earlier{k}"), export=False)
        args += [flag, _RUN_FOLDERS[label]]
    return args


def write_data(run, folder):
    """`(extra argv, environment)` for the row's paper data, written under `folder`."""
    return DATA[run.data](str(folder)) if run.data else ([], {})


def run_check(run, folder, mixed=False, export=True, data=None):
    """Runs one row's job once on the tiny paper data (`data`, `write_data`'s result,
    or written here); returns what the table shows."""
    import keras

    folder = str(folder)
    run = dataclasses.replace(run, args=(*run.args, *_earlier_runs(run, folder)))
    data_args, data_environment = data or write_data(run, os.path.join(folder, "data"))
    argv = [
        *run.args,
        *data_args,
        "--config",
        run.config,
        *[a for item in run.tiny for a in ("--override", item)],
        "--override",
        "steps_per_epoch=2",
        "--steps",
        "2",
        "--model_dir",
        os.path.join(folder, "run"),
        "--export_dir",
        os.path.join(folder, "saved_models"),
        "--progress",
        "none",
        "--intra_op_threads",
        "0",
        "--inter_op_threads",
        "0",
    ]
    argv += ["--mixed_precision"] if mixed else []
    argv += [] if export else ["--no_export"]
    module = importlib.import_module(run.job)
    started = time.perf_counter()
    with _policy(mixed), _environment(**data_environment):
        summary = module.main(argv)
        step_seconds = _step_seconds(summary)
    seconds = time.perf_counter() - started
    losses = [v for k, vs in _histories(summary).items() if k.endswith("loss") for v in vs]
    if run.trains and (not losses or not all(math.isfinite(v) for v in losses)):
        raise AssertionError(f"{run.label}: losses {losses}")
    if not mixed:
        _RUN_FOLDERS[run.label] = os.path.join(folder, "run")
    parameters = run.parameters() if run.parameters else summary.get(run.count)
    signatures = []
    if export:
        for path in _exports(summary):
            signatures += call_signatures(path, run)
        if not signatures:
            raise AssertionError(f"{run.label}: nothing exported")
        shutil.rmtree(os.path.join(folder, "saved_models"), ignore_errors=True)  # GBs at paper size
    keras.backend.clear_session()
    gc.collect()
    return {
        "seconds": seconds,
        "step_seconds": step_seconds,
        "parameters": parameters,
        "state_gib": _training_state_gib(summary),
        "signatures": signatures,
    }


def _training_state_gib(summary):
    """Weights, gradients and optimiser slots in float32 (mixed precision keeps float32
    weights too) of the largest model the job trained: memory any batch size adds to."""
    fits = [summary] + list(summary.get("fits", {}).values())
    sizes = [
        f["parameters"] + f["trainable_parameters"] + f.get("optimizer_variables", 0)
        for f in fits
        if "trainable_parameters" in f
    ]
    return 4 * max(sizes) / 2**30 if sizes else None


def _histories(summary):
    histories = [summary.get("history", {})] + [f.get("history", {}) for f in summary.get("fits", {}).values()]
    merged = {}
    for h in histories:
        for k, v in h.items():
            merged.setdefault(k, []).extend(v)
    return merged


def _step_seconds(summary):
    fits = [summary] + list(summary.get("fits", {}).values())
    times = [
        f["train_seconds"] / max(1, f["final_step"] - f["resumed_from_step"]) for f in fits if "train_seconds" in f
    ]
    return sum(times) / len(times) if times else float("nan")


def _exports(summary):
    found = summary.get("exports") or ([summary["export"]] if summary.get("export") else [])
    return [p for p in found if p]


def ratio(ours, paper):
    return ours / paper if ours and paper else None


# -- One row in its own process, and the table --------------------------------------------------------------


def _reset_peak_memory():
    """Starts a new peak of this process's resident memory (Linux: VmHWM)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:  # not Linux, or not allowed: the process's peak so far is reported
        pass


def proc_gib(path, field):
    """A `field:  N kB` line of a Linux /proc file (`/proc/meminfo`, `/proc/self/status`)
    in GiB, or None where the file or the field is not there."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return None


def _peak_memory_gib():
    peak = proc_gib("/proc/self/status", "VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def check_row(label, folder):
    """Both passes of one row in this process: float32 (exported, every signature
    called), then mixed precision (trained and evaluated). Returns a dict for JSON
    with the row's wall seconds and its peak resident memory."""
    run = next(r for r in RUNS if r.label == label)
    result = {"label": label}
    _reset_peak_memory()
    started = time.perf_counter()
    data = None
    for name, mixed in (("float32", False), ("mixed", True)):
        try:
            data = data or write_data(run, os.path.join(folder, "data"))
            result[name] = run_check(run, os.path.join(folder, name), mixed=mixed, export=not mixed, data=data)
            if mixed:  # its checkpoints are GBs at paper size and no later row starts from them
                shutil.rmtree(os.path.join(folder, name), ignore_errors=True)
        except Exception as err:  # reported in the row (and by the test), the next pass still runs
            result[name] = {
                "error": f"{type(err).__name__}: {' '.join(str(err).split())[:300]}",
                "traceback": traceback.format_exc()[-4000:],
            }
    ours = result["float32"].get("parameters")
    result["ratio"] = ratio(ours, run.paper_parameters)
    result["parameters_ok"] = result["ratio"] is None or abs(result["ratio"] - 1) <= run.tolerance
    result["row_seconds"] = time.perf_counter() - started
    result["peak_gib"] = _peak_memory_gib()
    return result


# Jobs whose paper models peak under 4 GiB resident (the table's peak GiB): their rows share one process,
# so TensorFlow is imported once for all of them, not once per job (5-7 s each here).
LIGHT_JOBS = (
    "train.word_rnn",
    "train.ntm",
    "train.handwriting",
    "train.darn",
    "train.autoencoder",
    "train.adversarial",
    "train.fooling",
)


def job_groups(runs):
    """`[[labels], ...]` in the rows' order: the rows of one process. A job's rows
    share a process (a later stage starts from an earlier one's run folder), and the
    light jobs' rows share one."""
    groups = {}
    for run in runs:
        groups.setdefault("light" if run.job in LIGHT_JOBS else run.job, []).append(run.label)
    return list(groups.values())


# The peak resident memory of each job's process, GiB (the table's "peak GiB", the most of a job's
# rows, rounded up; benchmarks/results/paper_configs.txt); the light jobs' one process, LIGHT_PEAK_GIB.
# The test suite runs a group beside its other tests only while this much memory is free.
PEAK_GIB = {
    "train.localization": 6.0,
    "train.rcnn": 12.0,
    "train.fcn": 11.0,
    "train.depth": 4.5,
    "train.two_stream": 8.0,
    "train.lrcn": 7.0,
    "train.video_fusion": 8.5,
    "train.captioning": 4.5,
    "train.retrieval": 7.0,
    "train.char_rnn": 8.0,
    "train.translate": 5.0,
}
LIGHT_PEAK_GIB = 5.0


def group_peak_gib(labels):
    """The peak resident memory, GiB, of the process that checks a `job_groups` group."""
    jobs = {next(r.job for r in RUNS if r.label == label) for label in labels}
    return max(LIGHT_PEAK_GIB if job in LIGHT_JOBS else PEAK_GIB[job] for job in jobs)


def check_in_subprocess(labels, folder, timeout_per_row=1200, background=False, started=None):
    """`check_row` of each of `labels` (a `job_groups` group) in one fresh Python process
    (the paper-size models' memory goes with it; TensorFlow is imported once per group):
    `({label: result dict}, the process's output)`. A row the process did not reach
    (it crashed or timed out) gets an error naming that; when a signal ended the
    process, every row's result names it (`"signal"`).

    `background`: the process runs at the lowest CPU priority and is the one the
    kernel kills first when memory runs out (checks run beside other work).
    `started(process)` is called with the `subprocess.Popen` once it runs."""
    import subprocess

    out = os.path.join(folder, "results.json")
    command = [sys.executable, "-m", "benchmarks.paper_configs", "--folder", folder, "--json", out]
    process = subprocess.Popen(
        [*(["nice", "-n", "19"] if background else []), *command, "--check", *labels],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        env=dict(os.environ, TMPDIR=folder),  # TFDS's and autograph's temporary files go with the folder
    )
    if background:
        _first_to_kill(process.pid)
    if started:
        started(process)
    timeout = timeout_per_row * len(labels)
    killed_by = None
    try:
        output, _ = process.communicate(timeout=timeout)
        killed_by = _signal_name(-process.returncode) if process.returncode < 0 else None
        ended = f"killed by {killed_by}" if killed_by else f"exit {process.returncode}"
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        ended = f"timed out after {timeout:.0f} s"
    results = {}
    if os.path.exists(out):
        with open(out) as f:
            results = {r["label"]: r for r in json.load(f)}
    shutil.rmtree(folder, ignore_errors=True)  # the job's runs: tens of GB at paper size for some jobs
    for label in labels:
        results.setdefault(label, {"label": label, "float32": {"error": f"not reached: {ended}"}, "mixed": {}})
        if killed_by:
            results[label]["signal"] = killed_by
    return results, output


def _first_to_kill(pid):
    """Makes process `pid` the first the kernel's OOM killer chooses (Linux; a
    process may raise its own user's processes' score; left as is elsewhere)."""
    try:
        with open(f"/proc/{pid}/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass


def _signal_name(number):
    import signal

    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def slug(label):
    """A row's label as a file name: its run folder and its kept result."""
    return label.replace(" ", "_")


def _check_rows(labels, folder, out):
    """The `--check` mode: rows one after the other in this process, their results
    rewritten to `out` after each (a crash keeps the rows before it)."""
    results = []
    for label in labels:
        results.append(check_row(label, os.path.join(folder, slug(label))))
        with open(out, "w") as f:
            json.dump(results, f)
    return results


# Where a run of the test suite keeps each row's result, when set, for `--from_results`.
RESULTS_ENV = "KERAS_L11_PAPER_RESULTS"


def keep_result(result):
    """Writes a row's result to `$KERAS_L11_PAPER_RESULTS/<label>.json`, when that is set."""
    folder = os.environ.get(RESULTS_ENV)
    if folder:
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, slug(result["label"]) + ".json"), "w") as f:
            json.dump(result, f)


def _kept_result(folder, label):
    path = os.path.join(folder, slug(label) + ".json")
    if not os.path.exists(path):
        return {"label": label, "float32": {"error": "not in --from_results"}, "mixed": {}}
    with open(path) as f:
        return json.load(f)


def _seconds(value):
    return f"{value:.2f}" if value is not None and math.isfinite(value) else "-"


def row_cells(run, result):
    f32, mixed = result.get("float32", {}), result.get("mixed", {})
    errors = [e for e in (f32.get("error"), mixed.get("error")) if e]
    ok = not errors and result.get("parameters_ok", False)
    ours = f32.get("parameters")
    return [
        run.label,
        f"{ours:,}" if ours else "-",
        f"{run.paper_parameters:,}" if run.paper_parameters else "-",
        f"{result['ratio']:.3f}" if result.get("ratio") else "-",
        _seconds(f32.get("step_seconds")),
        _seconds(mixed.get("step_seconds")),
        f"{f32['state_gib']:.2f}" if f32.get("state_gib") else "-",
        f"{result['row_seconds']:.0f}" if "row_seconds" in result else "-",
        f"{result.get('peak_gib', float('nan')):.1f}",
        len(f32.get("signatures", [])) if "signatures" in f32 else "-",
        "ok" if ok else (errors[0][:60] if errors else "parameters off"),
    ]


HEADER = [
    "paper configuration",
    "parameters",
    "paper's",
    "ratio",
    "s/step f32",
    "s/step mixed",
    "state GiB",
    "row s",
    "peak GiB",
    "signatures called",
    "result",
]


def _command(flags):
    if flags.from_results:
        return (
            f"kept by a run of the test suite, `{RESULTS_ENV}=DIR python -m pytest -q tests`, and printed by "
            "`python -m benchmarks.paper_configs --from_results DIR`"
        )
    return "`python -m benchmarks.paper_configs`"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.paper_configs", description=__doc__)
    parser.add_argument("--only", nargs="*", default=None, help="rows whose label starts with one of these")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "paper_configs.txt"))
    parser.add_argument(
        "--from_results",
        default=None,
        help=f"the table from the rows a test run kept (run the suite with {RESULTS_ENV}=DIR), without running them",
    )
    parser.add_argument("--check", nargs="+", default=None, help=argparse.SUPPRESS)  # rows, in this process
    parser.add_argument("--folder", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--json", default=None, help=argparse.SUPPRESS)
    flags = parser.parse_args(argv)
    if flags.check:
        return _check_rows(flags.check, flags.folder, flags.json)
    from keras_l11.training.harness import format_table

    rows, total = [], 0.0
    runs = [r for r in RUNS if not flags.only or any(r.label.startswith(o) for o in flags.only)]
    for labels in job_groups(runs):
        if flags.from_results:
            results = {label: _kept_result(flags.from_results, label) for label in labels}
        else:
            with tempfile.TemporaryDirectory() as folder:
                results, _ = check_in_subprocess(labels, folder)
        for label in labels:
            run = next(r for r in runs if r.label == label)
            keep_result(results[label])
            total += results[label].get("row_seconds", 0.0)
            rows.append(row_cells(run, results[label]))
            print("  ".join(str(c) for c in rows[-1]), flush=True)
    table = format_table(HEADER, rows)
    sources = "\n".join(f"- {r.label}: {r.source}" for r in runs if r.source)
    text = (
        f"Every paper configuration on this 2-core CPU ({_command(flags)}): two optimiser "
        "steps on a tiny batch at the paper's input shapes, in float32 and with --mixed_precision (bfloat16 on "
        "this CPU), seconds per step including the first steps' tracing, the row's seconds (both passes: data, "
        "build, steps, evaluation, export, signature calls) and its peak resident memory; state GiB: the "
        "weights, gradients and optimiser slots in float32, what training takes on a GPU before activations.\n\n"
        + table
        + f"\n\n{len(rows)} rows, {sum(r[-1] == 'ok' for r in rows)} ok, {total / 60:.1f} minutes in all (rows only; "
        f"one process per job, one for the light jobs)." + "\n\nThe papers' counts:\n\n" + sources + "\n"
    )
    print(text)
    if not flags.only:
        with open(flags.out, "w") as f:
            f.write(text)
    return rows


if __name__ == "__main__":
    main()
