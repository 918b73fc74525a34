"""Data preparation as Apache Beam pipelines: a function per item, run over
every item of each split, written as sharded ArrayRecord files that TFDS reads.

Region proposals (`keras_l11.detection.prepare`) and optical flow
(`keras_l11.video.prepare`) are such preparations. A `Preparation` names its
output, its record features, the per-item `transform` (it runs in the workers,
on any runner: Beam's local runner with a process per core, Dataflow, Flink,
Spark) and each split's `keras_l11.data.item_sources` source.

The unit of work is a shard (`items_per_shard` consecutive items): a worker
reads its items, transforms them, writes the shard's file and then a small
report beside it. A shard with a report is finished, so a run that is killed
and started again skips what was done. An item that cannot be read or
transformed (a corrupt image, a video OpenCV cannot decode) is counted, named
with its error in the shard's report and in `report.json`, and skipped.

An output folder `<root>/<name>/1.0.0/`:

    <name>-<split>.array_record-00003-of-00040   records (TFDS's file names)
    dataset_info.json, features.json            TFDS's metadata, once every shard is written
    preparation.json                            the settings that made the records
    shards/<split>-00003-of-00040.json          a finished shard's report
    report.json                                 totals and every skipped item

Read it with `keras_l11.data.prepared_records` or with TFDS:
`tfds.builder_from_directory(folder).as_data_source(split)` (ArrayRecord is
random access: the video jobs read windows of videos larger than memory).
An item (an image, a video) makes one record or several (a video: one per
frame); each record has the item's `id` (file name, or split and position),
its `index` in the source split (skipped items leave gaps) and the
transform's features. The shards' reports list every item with its number of
records and its `catalog` fields (a label), for readers that need the items
without decoding records.
"""

import contextlib
import dataclasses
import json
import logging
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable

logging.getLogger("apache_beam").setLevel(logging.ERROR)  # not a warning per optional file system (GCS, S3...)
import apache_beam as beam  # noqa: E402
from apache_beam.io.filesystems import FileSystems  # noqa: E402
from apache_beam.metrics import Metrics  # noqa: E402

VERSION = "1.0.0"
SHARDS_PER_SPLIT = 64  # with items_per_shard 0: shards a split is cut into, for a small set
PIPELINE_HELP = (
    "Any other --option is a Beam pipeline option, passed to the runner: --runner (DirectRunner by default: "
    "a worker process per core), --direct_num_workers N, or e.g. --runner DataflowRunner --project P "
    "--region R --temp_location gs://B/tmp --setup_file ./setup.py; Flink and Spark likewise."
)


@dataclasses.dataclass(frozen=True)
class Preparation:
    """What one pipeline makes.

    Attributes:
        name: the output's TFDS name (letters, digits, underscores).
        features: a picklable function returning the `tfds.features` dict of a
            record's features (besides `id` and `index`).
        transform: a picklable function, payload dict -> record dict, or a
            list of them (several records per item: a video's frames).
        splits: `{split name: source}` (`keras_l11.data.item_sources`).
        settings: what else makes the records (method, sizes, seed...);
            written to `preparation.json`, and a folder made with other
            settings is refused rather than mixed.
        items_per_shard: items per output file, the unit of work and of
            resumption; 0 (the default) for about `SHARDS_PER_SPLIT` shards per
            split, at most `max_items_per_shard` items each (enough shards
            for every worker to stay busy, few enough to open).
        what: the items' name in progress lines ("images", "videos").
        catalog: record features (small ones: a label) also listed per item in
            the shards' reports, so readers know every item without decoding
            its records.
    """

    name: str
    features: Callable
    transform: Callable
    splits: dict
    settings: dict
    items_per_shard: int = 0
    max_items_per_shard: int = 32
    what: str = "items"
    catalog: tuple = ()

    def shard_size(self, total):
        if self.items_per_shard:
            return self.items_per_shard
        return max(1, min(self.max_items_per_shard, -(-total // SHARDS_PER_SPLIT)))


@dataclasses.dataclass(frozen=True)
class Shard:
    split: str
    index: int
    count: int
    start: int
    stop: int

    @property
    def key(self):
        return f"{self.split}-{self.index:05d}-of-{self.count:05d}"


def output_folder(root, name):
    return _join(root, name, VERSION)


def record_features(preparation):
    import numpy as np
    import tensorflow_datasets as tfds

    return tfds.features.FeaturesDict(
        {"id": tfds.features.Text(), "index": tfds.features.Scalar(np.int64), **preparation.features()}
    )


def records_path(folder, name, shard):
    return _join(folder, f"{name}-{shard.split}.array_record-{shard.index:05d}-of-{shard.count:05d}")


def _join(*parts):
    return "/".join(p.rstrip("/") for p in parts) if "://" in parts[0] else os.path.join(*parts)


def _is_local(path):
    return "://" not in path


def _write_text(path, text):
    """Writes `path` whole: a temporary name, then renamed (object stores write whole objects anyway)."""
    if _is_local(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        staged = f"{path}.part-{uuid.uuid4().hex[:8]}"
        with open(staged, "w") as f:
            f.write(text)
        os.replace(staged, path)
        return
    with FileSystems.create(path) as f:
        f.write(text.encode())


def _read_json(path):
    with FileSystems.open(path, compression_type="uncompressed") as f:
        return json.loads(f.read())


def _matching(pattern):
    try:
        return [m.path for m in FileSystems.match([pattern])[0].metadata_list]
    except Exception:  # no such folder yet
        return []


def plan(preparation):
    """Every shard of every split, from the sources' counts."""
    shards = []
    for split, source in preparation.splits.items():
        total = source.count()
        size = preparation.shard_size(total)
        count = max(1, -(-total // size))
        for k in range(count):
            shards.append(Shard(split, k, count, k * size, min((k + 1) * size, total)))
    return shards


def finished_reports(folder):
    """`{shard key: report}` of the shards already written in `folder`."""
    reports = {}
    for path in _matching(_join(folder, "shards", "*.json")):
        try:
            report = _read_json(path)
        except (OSError, ValueError):  # a report being written: not finished
            continue
        reports[report["shard"]] = report
    return reports


class WriteShard(beam.DoFn):
    """The worker's step: a shard's items -> its ArrayRecord file -> its report."""

    def __init__(self, preparation, folder):
        super().__init__()
        self.preparation, self.folder = preparation, folder
        self._features = None

    def setup(self):
        self._features = record_features(self.preparation)

    def process(self, shard):
        from array_record.python.array_record_module import ArrayRecordWriter

        started = time.time()
        target = records_path(self.folder, self.preparation.name, shard)
        if _is_local(target):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            staged, scratch = f"{target}.part-{uuid.uuid4().hex[:8]}", None
        else:  # written locally, then copied whole
            scratch = tempfile.mkdtemp()
            staged = os.path.join(scratch, "records")
        writer = ArrayRecordWriter(staged, "group_size:1")
        catalog, skipped = [], []
        source = self.preparation.splits[shard.split]
        items = source.items(shard.start, shard.stop)
        for index, (item_id, load) in zip(range(shard.start, shard.stop), items):
            try:
                made = self.preparation.transform(load())
                records = made if isinstance(made, list) else [made]
                data = [self._features.serialize_example({"id": item_id, "index": index, **r}) for r in records]
            except Exception as err:  # a corrupt input: reported and skipped, never the end of the run
                skipped.append({"id": item_id, "index": index, "error": f"{type(err).__name__}: {err}"})
                Metrics.counter("preparation", "skipped").inc()
                continue
            for record in data:  # an item's records are written whole or not at all
                writer.write(record)
            entry = {"id": item_id, "index": index, "records": len(data)}
            catalog.append({**entry, **{k: _plain(records[0][k]) for k in self.preparation.catalog}})
            Metrics.counter("preparation", "written").inc()
        writer.close()
        if scratch is None:
            os.replace(staged, target)
        else:
            FileSystems.copy([staged], [target])
            FileSystems.delete([scratch])
        report = {
            "shard": shard.key,
            "split": shard.split,
            "index": shard.index,
            "records": sum(item["records"] for item in catalog),
            "items": catalog,
            "skipped": skipped,
            "bytes": _size(target),
            "seconds": round(time.time() - started, 3),
            "worker": os.getpid(),
        }
        _write_text(_join(self.folder, "shards", f"{shard.key}.json"), json.dumps(report))
        yield report


def _plain(value):
    """A record's small field (a label, a name) as JSON takes it."""
    value = value.item() if hasattr(value, "item") else value
    return value.decode() if isinstance(value, bytes) else value


def _size(path):
    if _is_local(path):
        return os.path.getsize(path)
    return FileSystems.match([path])[0].metadata_list[0].size_in_bytes


def pipeline_options(args, pending):
    """Beam options from command-line `args`; on the local runner (the default)
    a worker process per core (at most one per pending shard) unless the
    args say otherwise, and the workers' logs at WARNING."""
    from apache_beam.options.pipeline_options import PipelineOptions

    args = list(args)
    given = {a.split("=")[0] for a in args if a.startswith("--")}
    runner = next((a.split("=", 1)[1] for a in args if a.startswith("--runner=")), None)
    if runner is None and "--runner" in args:
        runner = args[args.index("--runner") + 1]
    if runner is None:
        args.append("--runner=DirectRunner")
    if runner in (None, "DirectRunner", "direct", "PrismRunner") and "--direct_running_mode" not in given:
        if "--direct_num_workers" in given:
            workers = PipelineOptions(args).get_all_options()["direct_num_workers"]
        else:
            workers = max(1, min(os.cpu_count() or 1, pending))
            args.append(f"--direct_num_workers={workers}")
        args.append(f"--direct_running_mode={'multi_processing' if workers > 1 else 'in_memory'}")
    if "--default_sdk_harness_log_level" not in given:
        args.append("--default_sdk_harness_log_level=WARNING")
    return PipelineOptions(args)


class Progress(threading.Thread):
    """Prints `done of total` shards and items, the rate and what is left, every
    `interval` seconds while the pipeline runs (it reads the shards' reports, so
    it works on any runner whose output the launcher can see)."""

    def __init__(self, preparation, folder, shards, already, interval):
        super().__init__(daemon=True)
        self.preparation, self.folder, self.interval = preparation, folder, interval
        self.total_items = sum(s.stop - s.start for s in shards)
        self.total_shards = len(shards)
        self.already = set(already)
        self.stopped = threading.Event()
        self.started_at = time.time()

    def line(self):
        reports = finished_reports(self.folder)
        new = [r for key, r in reports.items() if key not in self.already]
        items = sum(len(r["items"]) + len(r["skipped"]) for r in reports.values())
        skipped = sum(len(r["skipped"]) for r in reports.values())
        new_items = sum(len(r["items"]) + len(r["skipped"]) for r in new)
        elapsed = time.time() - self.started_at
        rate = new_items / elapsed if elapsed > 0 else 0.0
        left = (self.total_items - items) / rate if rate > 0 else float("nan")
        eta = f", about {left / 60:.1f} min left" if rate > 0 and items < self.total_items else ""
        return (
            f"{self.preparation.name}: {len(reports)} of {self.total_shards} shards, "
            f"{items} of {self.total_items} {self.preparation.what} ({skipped} skipped), "
            f"{rate:.2f} {self.preparation.what}/s{eta}"
        )

    def run(self):
        while not self.stopped.wait(self.interval):
            print(self.line(), file=sys.stderr, flush=True)


def _check_settings(folder, preparation, shards):
    """Writes `preparation.json`, or refuses a folder made with other settings
    or from other sources (another number of items, or of items per shard)."""
    path = _join(folder, "preparation.json")
    items = {split: sum(s.stop - s.start for s in shards if s.split == split) for split in preparation.splits}
    counts = {split: max(s.count for s in shards if s.split == split) for split in preparation.splits}
    wanted = {"name": preparation.name, "items": items, "shards": counts, **preparation.settings}
    wanted = json.loads(json.dumps(wanted))  # tuples as lists, as read back
    if _matching(path):
        found = _read_json(path)
        if found != wanted:
            changed = sorted(k for k in set(found) | set(wanted) if found.get(k) != wanted.get(k))
            raise ValueError(
                f"{folder} holds {preparation.name} made with other settings "
                f"({', '.join(f'{k}: {found.get(k)!r} there, {wanted.get(k)!r} now' for k in changed)}); "
                "delete it or write elsewhere (--output)"
            )
    else:
        _write_text(path, json.dumps(wanted, indent=1))


def _finalize(preparation, folder, reports, seconds, done_before):
    """TFDS's metadata (once all shards are written) and `report.json`."""
    import tensorflow_datasets as tfds

    splits = []
    for split in preparation.splits:
        ours = sorted((r for r in reports.values() if r["split"] == split), key=lambda r: r["index"])
        splits.append(
            tfds.core.SplitInfo(
                name=split, shard_lengths=[r["records"] for r in ours], num_bytes=sum(r["bytes"] for r in ours)
            )
        )
    tfds.folder_dataset.write_metadata(
        data_dir=folder,
        features=record_features(preparation),
        split_infos=splits,
        check_data=False,
        description=f"{preparation.name}, made by keras_l11 ({json.dumps(preparation.settings)})",
    )
    skipped = [dict(item, split=r["split"]) for r in reports.values() for item in r["skipped"]]
    report = {
        "name": preparation.name,
        "folder": folder,
        "splits": {
            s.name: {
                "items": sum(len(r["items"]) for r in reports.values() if r["split"] == s.name),
                "records": s.num_examples,
                "shards": len(s.shard_lengths),
            }
            for s in splits
        },
        "items": sum(len(r["items"]) for r in reports.values()),
        "records": sum(s.num_examples for s in splits),
        "skipped": sorted(skipped, key=lambda s: (s["split"], s["index"])),
        "seconds_this_run": round(seconds, 2),
        "shards_done_before": done_before,
        "shards_written": len(reports) - done_before,
    }
    _write_text(_join(folder, "report.json"), json.dumps(report, indent=1))
    return report


@contextlib.contextmanager
def _locked(folder):
    """One local run per folder at a time (the processes of a multi-worker job
    all ask for the same data): the others wait, then find it written."""
    if not _is_local(folder):
        yield
        return
    import fcntl

    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def run(preparation, root, pipeline_args=(), progress_seconds=10.0):
    """Runs the pipeline for the shards not written yet in `<root>/<name>/1.0.0`
    and returns the report (what `report.json` holds, plus `shards_done_before`
    and `shards_written`)."""
    from keras_l11.data.install import remove_legacy_caches

    remove_legacy_caches()
    folder = output_folder(root, preparation.name)
    with _locked(folder):
        return _run(preparation, folder, pipeline_args, progress_seconds)


def _remove_partial_files(folder):
    """Files a killed run was writing (`*.part-*`); only called under the folder's lock."""
    if _is_local(folder):
        for path in _matching(_join(folder, "*.part-*")) + _matching(_join(folder, "shards", "*.part-*")):
            os.remove(path)


def _run(preparation, folder, pipeline_args, progress_seconds):
    shards = plan(preparation)
    _check_settings(folder, preparation, shards)
    _remove_partial_files(folder)
    before = finished_reports(folder)
    pending = [s for s in shards if s.key not in before]
    started = time.time()
    if pending:
        print(
            f"{preparation.name}: {len(shards) - len(pending)} of {len(shards)} shards already written, "
            f"{len(pending)} to go -> {folder}",
            file=sys.stderr,
            flush=True,
        )
        progress = Progress(preparation, folder, shards, before, progress_seconds)
        progress.start()
        try:
            with beam.Pipeline(options=pipeline_options(pipeline_args, len(pending))) as pipeline:
                _ = (
                    pipeline
                    | "Shards" >> beam.Create(pending)
                    | "Spread" >> beam.Reshuffle()
                    | "Write" >> beam.ParDo(WriteShard(preparation, folder))
                )
        finally:
            progress.stopped.set()
        print(progress.line(), file=sys.stderr, flush=True)
    reports = finished_reports(folder)
    missing = [s.key for s in shards if s.key not in reports]
    if missing:
        raise RuntimeError(f"{preparation.name}: the pipeline ended with shards unwritten: {', '.join(missing[:5])}")
    if not pending and _matching(_join(folder, "report.json")):  # complete before: read, not rewritten under readers
        report = dict(_read_json(_join(folder, "report.json")), shards_done_before=len(shards), shards_written=0)
    else:
        report = _finalize(preparation, folder, reports, time.time() - started, len(shards) - len(pending))
    if report["skipped"]:
        names = ", ".join(s["id"] for s in report["skipped"][:5])
        more = f" and {len(report['skipped']) - 5} more" if len(report["skipped"]) > 5 else ""
        print(
            f"{preparation.name}: skipped {len(report['skipped'])} unreadable {preparation.what} ({names}{more}); "
            f"see {_join(folder, 'report.json')}",
            file=sys.stderr,
            flush=True,
        )
    return report


def job_pipeline_args():
    """Beam options for the preparations that training jobs start themselves
    (their data is missing): `$KERAS_L11_PIPELINE_ARGS`, e.g. "--direct_num_workers=1"."""
    return os.environ.get("KERAS_L11_PIPELINE_ARGS", "").split()


def command_parser(prog, description, max_items_per_shard, what):
    """An argparse parser with the flags every preparation command has."""
    import argparse

    from keras_l11.data.install import prepared_dir

    root = prepared_dir()
    parser = argparse.ArgumentParser(prog=prog, description=description, epilog=PIPELINE_HELP)
    parser.add_argument("--output", default=root, help=f"root folder (or gs://... URI) of the outputs; default {root}")
    parser.add_argument(
        "--items_per_shard",
        type=int,
        default=0,
        help=f"{what} per output file (default: about {SHARDS_PER_SPLIT} files per split, "
        f"at most {max_items_per_shard} {what} each)",
    )
    parser.add_argument(
        "--tfds_data_dir", default="", help="where TFDS's prepared data sets are (default $TFDS_DATA_DIR)"
    )
    return parser


def parse_command(parser, argv=None):
    """`(our flags, Beam's pipeline args)`: what the parser does not know goes
    to Beam; a stray value (not an option's) is an error."""
    args, rest = parser.parse_known_args(argv)
    stray = [
        a
        for i, a in enumerate(rest)
        if not a.startswith("-") and (i == 0 or not rest[i - 1].startswith("--") or "=" in rest[i - 1])
    ]
    if stray:
        parser.error(f"unrecognized arguments: {' '.join(stray)}")
    return args, rest


def summary_line(folder, report, what):
    per_split = ", ".join(f"{s}: {v['items']} {what}" for s, v in report["splits"].items())
    return (
        f"{folder}: {per_split}; {len(report['skipped'])} skipped; "
        f"{report['shards_written']} shards written now, {report['shards_done_before']} before"
    )
