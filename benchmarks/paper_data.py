"""Tiny copies of the papers' data sets in their real file formats: what the
readers of the `paper` configurations parse, generated here because none of
these data sets can be downloaded on a test machine. The tests and
`benchmarks/paper_configs.py` write them.

Each writer takes a folder and returns what it wrote (names, sizes, labels), so a
test can check a reader against the values it put there.
"""

import os

import numpy as np


def _palette():
    """VOC's colour map (bit-interleaved, as the devkit's `VOClabelcolormap.m`)."""
    palette = []
    for label in range(256):
        r = g = b = 0
        c = label
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette += [r, g, b]
    return palette


def _image_and_mask(rng, height, width, classes=21):
    """A photo-like JPEG-able image and a mask of two rectangles (with VOC's 255 band)."""
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    mask = np.zeros((height, width), np.uint8)
    for _ in range(2):
        top, left = rng.integers(0, height // 2), rng.integers(0, width // 2)
        label = rng.integers(1, classes)
        mask[top : top + height // 3, left : left + width // 3] = label
        image[top : top + height // 3, left : left + width // 3] = (label * 12) % 256
    return image, mask


def write_voc_devkit(root, splits, sizes, seed=0, boundary=True):
    """A VOC devkit's segmentation part: `JPEGImages/<name>.jpg`, palette PNGs in
    `SegmentationClass/` and `ImageSets/Segmentation/<split>.txt`.

    Args:
        splits: `{split: [names]}`.
        sizes: `{name: (height, width)}`.

    Returns:
        `{name: mask}` as written.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    for folder in ("JPEGImages", "SegmentationClass", os.path.join("ImageSets", "Segmentation")):
        os.makedirs(os.path.join(root, folder), exist_ok=True)
    masks = {}
    for split, names in splits.items():
        with open(os.path.join(root, "ImageSets", "Segmentation", f"{split}.txt"), "w") as f:
            f.write("".join(f"{n}\n" for n in names))
        for name in names:
            image, mask = _image_and_mask(rng, *sizes[name])
            if boundary:
                mask[0, :] = 255
            Image.fromarray(image).save(os.path.join(root, "JPEGImages", f"{name}.jpg"), quality=95)
            png = Image.fromarray(mask, mode="P")
            png.putpalette(_palette())
            png.save(os.path.join(root, "SegmentationClass", f"{name}.png"))
            masks[name] = mask
    return masks


def write_sbd(root, names, sizes, seed=1):
    """SBD's `dataset/` folder: `train.txt`, `img/<name>.jpg` and `cls/<name>.mat`
    (MATLAB struct `GTcls` with `Segmentation`, `Boundaries`, `CategoriesPresent`)."""
    from PIL import Image
    from scipy.io import savemat

    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(root, "img"), exist_ok=True)
    os.makedirs(os.path.join(root, "cls"), exist_ok=True)
    with open(os.path.join(root, "train.txt"), "w") as f:
        f.write("".join(f"{n}\n" for n in names))
    masks = {}
    for name in names:
        image, mask = _image_and_mask(rng, *sizes[name])
        Image.fromarray(image).save(os.path.join(root, "img", f"{name}.jpg"), quality=95)
        present = np.unique(mask[mask > 0]).astype(np.uint8)
        boundaries = np.empty((len(present), 1), object)  # a cell array: one boundary map per class present
        for k, label in enumerate(present):
            boundaries[k, 0] = (mask == label).astype(np.uint8)
        gt = {"Segmentation": mask, "Boundaries": boundaries, "CategoriesPresent": present}
        savemat(os.path.join(root, "cls", f"{name}.mat"), {"GTcls": gt})
        masks[name] = mask
    return masks


IAM_SPLIT_FILES = {
    "train": "trainset.txt",
    "validation1": "testset_v.txt",
    "validation2": "testset_t.txt",
    "test": "testset_f.txt",
}


def write_iam_ondb(root, forms, lines_per_form=2, points=(40, 120), seed=2):
    """IAM-OnDB: `lineStrokes/<a01>/<a01-000>/<form>-<nn>.xml` (whiteboard pen
    points), `ascii/<a01>/<a01-000>/<form>.txt` (OCR: and CSR: sections) and the
    task's split lists in `root`.

    Args:
        forms: `{split: [form ids such as "a01-000u"]}`, splits as `IAM_SPLIT_FILES`.
        points: the range of pen points per line.

    Returns:
        `{form: [(absolute points [N, 3], transcript), ...]}`.
    """
    rng = np.random.default_rng(seed)
    words = "the quick brown fox jumps over a lazy dog while seven wizards quietly hex".split()
    written = {}
    for split, ids in forms.items():
        os.makedirs(root, exist_ok=True)
        with open(os.path.join(root, IAM_SPLIT_FILES[split]), "w") as f:
            f.write("".join(f"{form}\n" for form in ids))
        for form in ids:
            writer, page = form.split("-")[0], form[:-1]  # a01-000u: folder a01/a01-000
            strokes_dir = os.path.join(root, "lineStrokes", writer, page)
            ascii_dir = os.path.join(root, "ascii", writer, page)
            os.makedirs(strokes_dir, exist_ok=True)
            os.makedirs(ascii_dir, exist_ok=True)
            lines = []
            for number in range(1, lines_per_form + 1):
                n = int(rng.integers(*points))
                xy = np.cumsum(rng.normal(0, 8, (n, 2)), 0) + [1000, 2000]
                ends = np.zeros(n)
                ends[np.sort(rng.choice(n - 1, 3, replace=False))] = 1
                ends[-1] = 1
                text = " ".join(rng.choice(words, 4))
                strokes, start = [], 0
                for end in np.flatnonzero(ends):
                    pts = "".join(
                        f'      <Point x="{x:.0f}" y="{y:.0f}" time="{i * 0.01:.2f}"/>\n'
                        for i, (x, y) in enumerate(xy[start : end + 1], start)
                    )
                    strokes.append(f'    <Stroke colour="black" start_time="0" end_time="1">\n{pts}    </Stroke>\n')
                    start = end + 1
                xml = (
                    '<?xml version="1.0" encoding="ISO-8859-1"?>\n<WhiteboardCaptureSession>\n'
                    '  <WhiteboardDescription><SensorLocation corner="top_left"/></WhiteboardDescription>\n'
                    f"  <StrokeSet>\n{''.join(strokes)}  </StrokeSet>\n</WhiteboardCaptureSession>\n"
                )
                with open(os.path.join(strokes_dir, f"{form}-{number:02d}.xml"), "w", encoding="iso-8859-1") as f:
                    f.write(xml)
                absolute = np.concatenate([np.round(xy), ends[:, None]], 1).astype(np.float32)
                lines.append((absolute, text))
            body = "\n".join(t for _, t in lines)
            with open(os.path.join(ascii_dir, f"{form}.txt"), "w") as f:
                f.write(f"OCR:\n\n{body}\n\nCSR:\n\n{body}\n")
            written[form] = lines
    return written


def write_enwik8(path, size=60_000, seed=3):
    """A file in enwik8's format: the head of a MediaWiki XML dump (UTF-8 bytes),
    `<page>`s of wiki markup, cut at `size` bytes as enwik8 is cut at 10^8."""
    rng = np.random.default_rng(seed)
    words = "the of and in a is was for on as by with from [[Anarchism]] {{cite}} '''bold''' ''it'' &amp; é".split()
    parts = ['<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.3/" version="0.3" xml:lang="en">\n']
    page = 0
    while sum(len(p.encode()) for p in parts) < size:
        text = " ".join(rng.choice(words, 300))
        parts.append(
            f"  <page>\n    <title>Page {page}</title>\n    <id>{page + 1}</id>\n    <revision>\n"
            f'      <id>{1000 + page}</id>\n      <text xml:space="preserve">{text}</text>\n'
            "    </revision>\n  </page>\n"
        )
        page += 1
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb") as f:
        f.write("".join(parts).encode("utf-8")[:size])
    return path


def write_ptb(folder, seed=4):
    """Penn Treebank as Mikolov's `simple-examples/data`: `ptb.train.txt`,
    `ptb.valid.txt`, `ptb.test.txt`, lowercased tokens, `<unk>`, `N` for numbers,
    a space before each line."""
    rng = np.random.default_rng(seed)
    vocab = "the a of to in and n't 's company said market shares <unk> N $ year new stock".split()
    os.makedirs(folder, exist_ok=True)
    for split, lines in (("train", 400), ("valid", 40), ("test", 40)):
        with open(os.path.join(folder, f"ptb.{split}.txt"), "w") as f:
            f.write("".join(" " + " ".join(rng.choice(vocab, rng.integers(5, 25))) + " \n" for _ in range(lines)))
    return folder


def write_png_frames(folder, count=12, size=(210, 160), seed=5):
    """A folder of PNG frames (Atari screens are 210 x 160 RGB)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    for i in range(count):
        frame = np.zeros((*size, 3), np.uint8)
        top, left = rng.integers(0, size[0] - 20), rng.integers(0, size[1] - 20)
        frame[top : top + 20, left : left + 20] = 255  # a bright block that moves from frame to frame
        Image.fromarray(frame).save(os.path.join(folder, f"frame_{i:05d}.png"))
    return folder


def voc_tfds_dataset(examples, encoded=False):
    """A `tf.data` of TFDS `voc/2007` examples (the features our reader uses) from
    `{"image", "bbox" [(ymin, xmin, ymax, xmax) fractions], "label", "is_difficult"?}`;
    images as PNG bytes with `encoded` (what TFDS gives a reader that skips decoding)."""
    import io

    import tensorflow as tf
    from PIL import Image

    def png(image):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG")
        return buffer.getvalue()

    def generate():
        for ex in examples:
            difficult = ex.get("is_difficult", np.zeros(len(ex["label"]), bool))
            objects = {"bbox": np.float32(ex["bbox"]), "label": np.int64(ex["label"]), "is_difficult": difficult}
            yield {"image": png(ex["image"]) if encoded else ex["image"], "objects": objects}

    objects = {
        "bbox": tf.TensorSpec([None, 4], tf.float32),
        "label": tf.TensorSpec([None], tf.int64),
        "is_difficult": tf.TensorSpec([None], tf.bool),
    }
    image = tf.TensorSpec([], tf.string) if encoded else tf.TensorSpec([None, None, 3], tf.uint8)
    return tf.data.Dataset.from_generator(generate, output_signature={"image": image, "objects": objects})


def write_prepared_tfds(name, data_dir, splits):
    """A TFDS data set prepared in `data_dir` exactly as `tfds build name` leaves it
    (the real builder's TFRecord shards, `dataset_info.json`, `features.json`),
    written by TFDS's own writer from `splits` (`{split: [example dict in the
    builder's features]}`) instead of the downloaded files."""
    import tensorflow_datasets as tfds

    tfds.disable_progress_bar()
    builder = tfds.builder(name, data_dir=data_dir)
    cls = type(builder)

    def split_generators(self, dl_manager):
        return {split: ((f"{split}{i}", ex) for i, ex in enumerate(examples)) for split, examples in splits.items()}

    original = cls.__dict__.get("_split_generators")
    cls._split_generators = split_generators
    try:
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(try_download_gcs=False))
    finally:
        if original is None:
            del cls._split_generators
        else:
            cls._split_generators = original
    return builder.data_dir


# -- Examples in TFDS builders' features, for `write_prepared_tfds` -------------------------------------------


def voc2007_examples(count, seed=6):
    """`voc/2007` examples with every feature of the builder: images of VOC's sizes,
    one object per labelled rectangle (boxes as (ymin, xmin, ymax, xmax) fractions)."""
    rng = np.random.default_rng(seed)
    examples = []
    for k in range(count):
        height, width = (375, 500) if k % 2 == 0 else (500, 333)
        image, mask = _image_and_mask(rng, height, width)
        boxes, labels = [], []
        for label in np.unique(mask[mask > 0]):
            rows, cols = np.nonzero(mask == label)
            boxes.append([rows.min() / height, cols.min() / width, (rows.max() + 1) / height, (cols.max() + 1) / width])
            labels.append(int(label) - 1)
        n = len(labels)
        objects = {
            "bbox": np.float32(boxes).reshape(n, 4),
            "label": labels,
            "is_difficult": [False] * n,
            "is_truncated": [False] * n,
            "pose": [4] * n,  # "unspecified"
        }
        examples.append(
            {
                "image": image,
                "image/filename": f"{k:06d}.jpg",
                "objects": objects,
                "labels": sorted(set(labels)),
                "labels_no_difficult": sorted(set(labels)),
            }
        )
    return examples


def coco_caption_examples(count, seed=8):
    """`coco_captions` examples: COCO-sized images with five captions each, no objects."""
    rng = np.random.default_rng(seed)
    words = "a man dog cat riding sitting on the street table with red blue".split()
    examples = []
    for k in range(count):
        captions = [" ".join(rng.choice(words, 6)) + " ." for _ in range(5)]
        examples.append(
            {
                "image": rng.integers(0, 256, (480, 640, 3), dtype=np.uint8),
                "image/filename": f"COCO_train2014_{k:012d}.jpg",
                "image/id": k,
                "objects": {
                    "area": np.zeros(0, np.int64),
                    "bbox": np.zeros((0, 4), np.float32),
                    "id": np.zeros(0, np.int64),
                    "is_crowd": np.zeros(0, bool),
                    "label": np.zeros(0, np.int64),
                },
                "captions": {"id": np.arange(5 * k, 5 * k + 5), "text": captions},
            }
        )
    return examples


def nyu_examples(count, seed=7):
    """`nyu_depth_v2` examples: 480 x 640 RGB frames and float16 depth in metres, 0
    where the Kinect saw nothing."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(count):
        depth = rng.uniform(0.7, 9.0, (480, 640)).astype(np.float16)
        depth[rng.random((480, 640)) < 0.05] = 0
        frames.append({"image": rng.integers(0, 256, (480, 640, 3), dtype=np.uint8), "depth": depth})
    return frames


def ucf101_examples(count, seed=9):
    """`ucf101/ucf101_1_256` examples: 33-frame 256 x 256 videos with random labels
    (TFDS's own random generator for the builder's features)."""
    import itertools

    import tensorflow_datasets as tfds
    from tensorflow_datasets.testing import mocking

    features = tfds.builder("ucf101/ucf101_1_256").info.features
    return list(itertools.islice(iter(mocking.RandomFakeGenerator(features, count, seed=seed)), count))


def wmt14_examples(count, seed=10):
    """`wmt14_translate/fr-en` examples: short English-French sentence pairs."""
    rng = np.random.default_rng(seed)
    pairs = [("the cat sleeps .", "le chat dort ."), ("a dog runs .", "un chien court ."), ("hello .", "bonjour .")]
    return [dict(zip(("en", "fr"), pairs[i])) for i in rng.integers(0, len(pairs), count)]
