"""Where a data-preparation pipeline's items come from (`keras_l11.data.beam_pipeline`).

A source is a small picklable description that a Beam worker, on any machine,
turns into items: `count()` runs once in the launcher, `items(start, stop)` in
the worker that writes the shard `[start, stop)`. An item is `(item_id, load)`;
`load()` decodes it into the payload dict that the pipeline's transform takes,
so that a corrupt file fails its own item (counted, reported, skipped), not the
shard that holds it.

- `ArraySource`: arrays made in the launcher (the offline sets), staged once to
  an ArrayRecord file of `.npy` records, read by index in the workers;
- `FolderSource`: a folder of images or videos, in sorted order, the label of a
  file being its subfolder (UCF-101's layout: `ApplyEyeMakeup/v_..._c01.avi`);
- `TfdsSource`: a split of a prepared TFDS data set, read as `split[start:stop]`
  with image and video features left encoded (decoded per item here).
"""

import dataclasses
import fnmatch
import io
import os

import numpy as np

IMAGE_PATTERNS = ("*.jpg", "*.jpeg", "*.png", "*.bmp", "*.ppm", "*.tif", "*.tiff", "*.webp")
VIDEO_PATTERNS = ("*.avi", "*.mp4", "*.mkv", "*.mov", "*.mpg", "*.mpeg", "*.webm")


def decode_image(data, name):
    """RGB uint8 `[H, W, 3]` of encoded image bytes; a ValueError that names the file otherwise."""
    import cv2

    if not len(data):
        raise ValueError(f"{name}: an empty file")
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:  # some malformed headers raise rather than return nothing
        image = None
    if image is None:
        raise ValueError(f"{name}: not an image OpenCV can decode ({len(data)} bytes)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


@dataclasses.dataclass(frozen=True)
class ArraySource:
    """Arrays staged by `stage_arrays` (one `.npy` record per item, plus an
    optional label per item). `count`, when known, spares reading the file
    (which is removed once the pipeline has made its records)."""

    path: str
    known_count: int = -1

    def count(self):
        return self.known_count if self.known_count >= 0 else len(self._reader())

    def _reader(self):
        from array_record.python.array_record_data_source import ArrayRecordDataSource

        return ArrayRecordDataSource([self.path])

    def items(self, start, stop):
        reader = self._reader()
        records = reader.__getitems__(list(range(start, stop)))
        for index, record in zip(range(start, stop), records):
            yield f"{index:06d}", lambda record=record: _unstaged(record)


def stage_arrays(path, arrays, labels=None):
    """Writes `arrays` (any shapes) and `labels` to `path` as an `ArraySource`'s
    file, atomically; returns the source."""
    from array_record.python.array_record_module import ArrayRecordWriter

    os.makedirs(os.path.dirname(path), exist_ok=True)
    staged = f"{path}.part-{os.getpid()}"
    writer = ArrayRecordWriter(staged, "group_size:1")
    for k, array in enumerate(arrays):
        buffer = io.BytesIO()
        np.savez(buffer, array=np.asarray(array), label=np.int64(-1 if labels is None else labels[k]))
        writer.write(buffer.getvalue())
    writer.close()
    os.replace(staged, path)
    return ArraySource(path, len(arrays))


def staged_arrays(path, count, make, needed=True):
    """An `ArraySource` of `count` arrays at `path`: `make() -> (arrays, labels
    or None)` writes it when it is `needed` (its pipeline's output is not
    complete) and not there yet."""
    if needed and not os.path.exists(path):
        arrays, labels = make()
        return stage_arrays(path, arrays, labels)
    return ArraySource(path, count)


def unstage(sources):
    """Removes the files of the `ArraySource`s among `sources` (once their records are made)."""
    for source in sources:
        if isinstance(source, ArraySource) and os.path.exists(source.path):
            os.remove(source.path)


def _unstaged(record):
    with np.load(io.BytesIO(record)) as saved:
        payload = {"array": saved["array"]}
        if int(saved["label"]) >= 0:
            payload["label"] = int(saved["label"])
        return payload


@dataclasses.dataclass(frozen=True)
class FolderSource:
    """The files under `folder` that match `patterns` (case-insensitive), sorted
    by their path relative to `folder`, which is the item's id. With
    `labelled`, a file's label is the index of its first-level subfolder among
    the sorted subfolders (`class_names`)."""

    folder: str
    patterns: tuple
    labelled: bool = False

    def files(self):
        if not os.path.isdir(self.folder):
            raise FileNotFoundError(f"{self.folder}: no such folder")
        found = []
        for root, dirs, names in os.walk(self.folder):
            dirs.sort()
            for name in names:
                if any(fnmatch.fnmatch(name.lower(), p) for p in self.patterns):
                    found.append(os.path.relpath(os.path.join(root, name), self.folder))
        if self.labelled:
            found = [f for f in found if os.sep in f]  # files at the top have no class
        if not found:
            raise FileNotFoundError(f"{self.folder}: no files matching {' '.join(self.patterns)}")
        return sorted(found)

    def class_names(self, files=None):
        if not self.labelled:
            return ()
        return tuple(sorted({f.split(os.sep)[0] for f in files or self.files()}))

    def count(self):
        return len(self.files())

    def items(self, start, stop):
        files = self.files()
        label_of = {name: k for k, name in enumerate(self.class_names(files))}
        for relative in files[start:stop]:
            path = os.path.join(self.folder, relative)
            label = label_of[relative.split(os.sep)[0]] if self.labelled else None
            yield relative, lambda path=path, label=label: self._load(path, label)

    def _load(self, path, label):
        payload = {"path": path}
        if label is not None:
            payload["label"] = label
        if any(fnmatch.fnmatch(path.lower(), p) for p in IMAGE_PATTERNS):
            from keras_l11.data.beam_files import read_bytes

            payload["array"] = decode_image(read_bytes(path), path)
        return payload  # videos are read from `path` by the transform (OpenCV reads files)


@dataclasses.dataclass(frozen=True)
class TfdsSource:
    """A split of a TFDS data set prepared in `data_dir` (or `$TFDS_DATA_DIR`,
    TFDS's default); `image_key` (an Image feature) or `video_key` (a Video
    feature) is decoded per item into the payload's `array`; `label_key`, if
    given, becomes its `label`."""

    name: str
    split: str
    data_dir: str = ""
    image_key: str = ""
    video_key: str = ""
    label_key: str = ""

    def _builder(self):
        import tensorflow_datasets as tfds

        data_dir = self.data_dir or os.environ.get("TFDS_DATA_DIR") or None
        return tfds.builder(self.name, data_dir=data_dir)

    def _not_prepared(self, err):
        return FileNotFoundError(
            f"{self.name} is not prepared in TFDS (its {self.split} split: {err}); run `tfds build {self.name}` "
            "where you have its files"
        )

    def count(self):
        try:
            builder = self._builder()
            if self.split in builder.info.splits:
                return builder.info.splits[self.split].num_examples
            # No split metadata (TFDS's mock data, a hand-made folder): count the examples.
            return sum(1 for _ in builder.as_dataset(split=self.split, decoders=self._skipped()))
        except Exception as err:  # TFDS raises several kinds for "not prepared"
            raise self._not_prepared(err) from None

    def class_names(self):
        return tuple(self._builder().info.features[self.label_key].names) if self.label_key else ()

    def _skipped(self):
        import tensorflow_datasets as tfds

        return {k: tfds.decode.SkipDecoding() for k in (self.image_key, self.video_key) if k}

    def items(self, start, stop):
        import tensorflow_datasets as tfds

        ds = self._builder().as_dataset(
            split=f"{self.split}[{start}:{stop}]",
            shuffle_files=False,
            decoders=self._skipped(),
            read_config=tfds.ReadConfig(try_autocache=False),
        )
        for offset, example in enumerate(tfds.as_numpy(ds)):
            index = start + offset
            yield f"{self.split}/{index}", lambda example=example, index=index: self._load(example, index)

    def _load(self, example, index):
        payload, name = {}, f"{self.name} {self.split}[{index}]"
        if self.image_key:
            payload["array"] = decode_image(example[self.image_key], name)
        if self.video_key:
            frames = example[self.video_key]
            payload["array"] = np.stack([decode_image(f, f"{name} frame {t}") for t, f in enumerate(frames)])
        if self.label_key:
            payload["label"] = int(example[self.label_key])
        return payload
