"""Reading what a preparation pipeline wrote (`keras_l11.data.beam_pipeline`):
its ArrayRecord shards, random access, decoded with the records' TFDS features
(`features.json`). The shards' reports list every item (its id, index, number
of records and catalog fields), so a reader knows the items without decoding
any record, and reads only the records it needs: a window of frames of one
video, not the video. (TFDS reads the same folder, record by record:
`tfds.builder_from_directory`.)
"""

import glob
import json
import os
import threading
import types

import numpy as np


class PreparedSplit:
    """The items of one split of a prepared folder, in the source's order
    (items the pipeline skipped are absent).

    `split` is a split name or a TFDS-style slice of its items ("train",
    "train[:90%]", "test[10:20]"), cut as TFDS cuts.
    """

    def __init__(self, folder, split):
        import tensorflow_datasets as tfds

        name = split.split("[")[0]
        if not os.path.exists(os.path.join(folder, "features.json")):
            raise FileNotFoundError(f"{folder}: no prepared records (no features.json: the pipeline has not finished)")
        paths = sorted(glob.glob(os.path.join(folder, f"*-{name}.array_record-*-of-*")))
        reports = sorted(glob.glob(os.path.join(folder, "shards", f"{name}-*-of-*.json")))
        if not paths or len(paths) != len(reports):
            raise ValueError(
                f"{folder} has no complete split {name!r} ({len(paths)} shard files, {len(reports)} reports)"
            )
        self.folder, self.features = folder, tfds.features.FeatureConnector.from_config(folder)
        items, first, counts = [], 0, []
        for path in reports:  # the shards' order, which is the records' order
            with open(path) as f:
                report = json.load(f)
            counts.append(report["records"])
            for item in report["items"]:
                items.append(dict(item, first=first))
                first += item["records"]
        self._shards = Shards(paths, counts)
        instruction = tfds.core.ReadInstruction.from_spec(split)
        (cut,) = instruction.to_absolute({name: types.SimpleNamespace(num_examples=len(items))})
        self.items = items[cut.from_ or 0 : cut.to]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        """Item `i`'s first (for most preparations, only) record, decoded."""
        return self.records([i])[0]

    def records(self, indices):
        """The first record of each item at `indices`, decoded."""
        return self._decode([self.items[i]["first"] for i in indices])

    def _decode(self, positions):
        return [self.features.deserialize_example_np(r) for r in self._shards.read(positions)]

    def catalog(self, key):
        """Catalog field `key` of every item (from the reports: nothing decoded)."""
        return [item[key] for item in self.items]

    def field(self, positions, key):
        """Feature `key` of the records at `positions` (absolute), `[n, ...]`:
        raw tensors are read straight from the record, without decoding the
        record's other features."""
        import tensorflow_datasets as tfds

        raw = self._shards.read(positions)
        feature = self.features[key]
        shape, dtype = tuple(feature.shape), np.dtype(feature.np_dtype)
        if not raw:
            return np.zeros((0, *shape), dtype)
        if (
            isinstance(feature, tfds.features.Tensor)
            and getattr(feature, "_encoding", None) == tfds.features.Encoding.BYTES
            and None not in shape
        ):
            from tensorflow.core.example import example_pb2

            values = [example_pb2.Example.FromString(r).features.feature[key].bytes_list.value[0] for r in raw]
            return np.frombuffer(b"".join(values), dtype).reshape(len(raw), *shape)
        return np.stack([self.features.deserialize_example_np(r)[key] for r in raw])

    def array(self, key, length=None):
        """Feature `key` of every item as an `ItemArray`: `[N, ...]` with one
        record per item, or `[N, length, ...]` from each item's first `length`
        records."""
        shape = tuple(self.features[key].shape)
        return ItemArray(self, key, length, shape, np.dtype(self.features[key].np_dtype))


class Shards:
    """Random access to the records of ArrayRecord files read as one sequence
    (`counts` records each): a reader per file, opened when first read,
    a read per file per call (no thread pool per call: a training step reads
    a few records at a time, many times)."""

    def __init__(self, paths, counts):
        self.paths, self.offsets = paths, np.cumsum([0, *counts])
        self._readers = [None] * len(paths)
        self._lock = threading.Lock()

    def _reader(self, k):
        if self._readers[k] is None:
            from array_record.python.array_record_module import ArrayRecordReader

            with self._lock:
                if self._readers[k] is None:  # random access: no read-ahead
                    self._readers[k] = ArrayRecordReader(self.paths[k], "readahead_buffer_size:0")
        return self._readers[k]

    def read(self, positions):
        positions = np.asarray(positions, np.int64).reshape(-1)
        if positions.size and (positions.min() < 0 or positions.max() >= self.offsets[-1]):
            raise IndexError(f"records {positions.min()}..{positions.max()} of {self.offsets[-1]}")
        files = np.searchsorted(self.offsets, positions, side="right") - 1
        out = [b""] * len(positions)
        for k in np.unique(files):
            where = np.flatnonzero(files == k)
            for i, record in zip(
                where, self._reader(int(k)).read([int(p) for p in positions[where] - self.offsets[k]])
            ):
                out[i] = record
        return out


class ItemArray:
    """A fixed-shape feature of a `PreparedSplit`'s items as a read-only array
    that reads only the records an index touches, in one batch: `a[i]`,
    `a[i, t : t + 5]` (five records of item i), `a[:8]`, `a[[3, 1]]`,
    `np.asarray(a)`."""

    def __init__(self, split, key, length, record_shape, dtype):
        self.split, self.key, self.length, self.dtype = split, key, length, dtype
        self.shape = (len(split), *(() if length is None else (length,)), *record_shape)
        self.ndim = len(self.shape)

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, index):
        first, rest = (index[0], index[1:]) if isinstance(index, tuple) else (index, ())
        count, single = len(self), isinstance(first, (int, np.integer))
        if single:
            if not -count <= first < count:
                raise IndexError(f"item {first} of {count}")
            picked = [int(first) % count]
        else:
            picked = list(range(count)[first]) if isinstance(first, slice) else [int(i) for i in np.asarray(first)]
        final = [0 if single else slice(None)]  # then the caller's other indices
        items = self.split.items
        if self.length is None:
            positions, steps = [items[i]["first"] for i in picked], None
        else:
            along, rest = (rest[0] if rest else slice(None)), rest[1:]
            if isinstance(along, (int, np.integer)):
                if not -self.length <= along < self.length:
                    raise IndexError(f"step {along} of {self.length}")
                steps = [int(along) % self.length]
                final.append(0)
            else:
                steps = range(self.length)[along]
                final.append(slice(None))
            positions = [items[i]["first"] + t for i in picked for t in steps]
        values = self.split.field(positions, self.key)
        lead = [len(picked)] if steps is None else [len(picked), len(steps)]
        out = values.reshape(*lead, *values.shape[1:])
        return out[(*final, *rest)]

    def windows(self, picked, starts, span):
        """`[len(picked), span, ...]`: records `start : start + span` of each
        picked item, read in one batch (what a training step asks for)."""
        if self.length is None:
            raise ValueError(f"{self.key} has one record per item: no windows")
        starts = np.asarray(starts, np.int64)
        if len(starts) and (starts.min() < 0 or starts.max() + span > self.length):
            raise IndexError(f"windows of {span} from {starts.min()}..{starts.max()} in {self.length} records")
        firsts = np.array([self.split.items[int(i)]["first"] for i in picked], np.int64)
        positions = ((firsts + starts)[:, None] + np.arange(span)[None, :]).reshape(-1)
        return self.split.field(positions, self.key).reshape(len(firsts), span, *self.shape[2:])

    def __array__(self, dtype=None, copy=None):
        out = self[:]
        return out if dtype is None else out.astype(dtype)
