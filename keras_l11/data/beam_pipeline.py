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

import dataclasses
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable

# isort: off
from keras_l11.data import beam_files as files  # first: it imports Beam's file systems quietly
import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
# isort: on

from keras_l11.data import beam_options

VERSION = "1.0.0"


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
            resumption; 0 (the default) for about `beam_options.SHARDS_PER_SPLIT` shards per
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
        return max(1, min(self.max_items_per_shard, -(-total // beam_options.SHARDS_PER_SPLIT)))


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


def name_part(text):
    """`text` as part of a TFDS name (lowercase letters, digits, underscores)."""
    return "".join(c if c.isalnum() else "_" for c in text).strip("_").lower()


def output_folder(root, name):
    return files.join(root, name, VERSION)


def is_complete(root, name):
    """Whether `<root>/<name>` holds a finished preparation (its `report.json`)."""
    return _is_complete(output_folder(root, name))


def _summary(folder):
    return files.join(folder, "report.json")


def _is_complete(folder):
    return bool(files.matching(_summary(folder)))


def record_features(preparation):
    import numpy as np
    import tensorflow_datasets as tfds

    return tfds.features.FeaturesDict(
        {"id": tfds.features.Text(), "index": tfds.features.Scalar(np.int64), **preparation.features()}
    )


def records_path(folder, name, shard):
    return files.join(folder, f"{name}-{shard.split}.array_record-{shard.index:05d}-of-{shard.count:05d}")


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
    for path in files.matching(files.join(folder, "shards", "*.json")):
        try:
            report = files.read_json(path)
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
        if files.is_local(target):
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
            except ImportError:  # the worker lacks a library (cv2.ximgproc...): no input is to blame
                raise
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
            shutil.rmtree(scratch, ignore_errors=True)
        report = {
            "shard": shard.key,
            "split": shard.split,
            "index": shard.index,
            "records": sum(item["records"] for item in catalog),
            "items": catalog,
            "skipped": skipped,
            "bytes": files.size(target),
            "seconds": round(time.time() - started, 3),
            "worker": os.getpid(),
        }
        files.write_text(files.join(self.folder, "shards", f"{shard.key}.json"), json.dumps(report))
        yield report


def _plain(value):
    """A record's small field (a label, a name) as JSON takes it."""
    value = value.item() if hasattr(value, "item") else value
    return value.decode() if isinstance(value, bytes) else value


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
    path = files.join(folder, "preparation.json")
    items = {split: sum(s.stop - s.start for s in shards if s.split == split) for split in preparation.splits}
    counts = {split: max(s.count for s in shards if s.split == split) for split in preparation.splits}
    wanted = {"name": preparation.name, "items": items, "shards": counts, **preparation.settings}
    wanted = json.loads(json.dumps(wanted))  # tuples as lists, as read back
    if files.matching(path):
        found = files.read_json(path)
        if found != wanted:
            changed = sorted(k for k in set(found) | set(wanted) if found.get(k) != wanted.get(k))
            raise ValueError(
                f"{folder} holds {preparation.name} made with other settings "
                f"({', '.join(f'{k}: {found.get(k)!r} there, {wanted.get(k)!r} now' for k in changed)}); "
                "delete it or write elsewhere (--output)"
            )
    else:
        files.write_text(path, json.dumps(wanted, indent=1))


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
    files.write_text(_summary(folder), json.dumps(report, indent=1))
    return report


def run(preparation, root, pipeline_args=(), progress_seconds=10.0):
    """Runs the pipeline for the shards not written yet in `<root>/<name>/1.0.0`
    and returns the report (what `report.json` holds, plus `shards_done_before`
    and `shards_written`)."""
    from keras_l11.data.install import remove_legacy_caches

    remove_legacy_caches()
    folder = output_folder(root, preparation.name)
    with files.locked(folder):
        return _run(preparation, folder, pipeline_args, progress_seconds)


def _run(preparation, folder, pipeline_args, progress_seconds):
    shards = plan(preparation)
    _check_settings(folder, preparation, shards)
    files.remove_partial_files(folder)
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
            with beam.Pipeline(options=beam_options.pipeline_options(pipeline_args, len(pending))) as pipeline:
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
    if not pending and _is_complete(folder):  # complete before: read, not rewritten under its readers
        report = dict(files.read_json(_summary(folder)), shards_done_before=len(shards), shards_written=0)
    else:
        report = _finalize(preparation, folder, reports, time.time() - started, len(shards) - len(pending))
    if report["skipped"] and not report["items"]:
        first = report["skipped"][0]
        raise RuntimeError(
            f"{preparation.name}: every one of {len(report['skipped'])} {preparation.what} failed "
            f"(the first, {first['id']}: {first['error']}); see {_summary(folder)}, "
            "and delete that folder to prepare it again"
        )
    if report["skipped"]:
        names = ", ".join(s["id"] for s in report["skipped"][:5])
        more = f" and {len(report['skipped']) - 5} more" if len(report["skipped"]) > 5 else ""
        print(
            f"{preparation.name}: skipped {len(report['skipped'])} unreadable {preparation.what} ({names}{more}); "
            f"see {_summary(folder)}",
            file=sys.stderr,
            flush=True,
        )
    return report
