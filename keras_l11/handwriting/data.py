"""Online handwriting as pen offsets `(dx, dy, end_of_stroke)` (Graves 2013, section 4).

Two sources:

- IAM-OnDB, for users who have it: each line of writing is an XML file of
  strokes (`<StrokeSet><Stroke><Point x= y= time=/>...`) and its transcript sits
  in the `CSR:` section of the form's ASCII file. `read_iam_strokes` and
  `read_iam_transcripts` parse them; `to_offsets` makes the network's input
  (offsets from the previous point, y pointing up, end of stroke on the last
  point of each stroke), and `Normaliser` scales offsets to unit standard
  deviation with statistics from the training set.
- Offline: synthetic online handwriting with exact transcripts, drawn from the
  cursive Hershey fonts of the `hershey-fonts` package (docs: data). Each
  `Writer` has a style of their own (font, slant, size, letter spacing, pen
  speed, tremor); every line adds small variations around that style.
"""

import dataclasses
import xml.etree.ElementTree as ET

import numpy as np
from HersheyFonts import HersheyFonts

FONTS = ("scripts", "cursive", "scriptc")
START_POINT = (0.0, 0.0, 1.0)  # "pen lifted at the origin": what the first point is predicted from
ALPHABET = " abcdefghijklmnopqrstuvwxyz"
WORDS = (
    "the of and to in is was he that it for on are as with his they at be this from have or by one had not but "
    "what all were when we there can an your which their said if do will each about how up out them then she "
    "many some so these would other into has more her two like him see time could no make than first been its "
    "who now people my made over did down only way find use may water long little very after words called just "
    "where most know get through back much before go good new write our used me man too any day same right look "
    "think also around another came come work three word must because does part even place well such here take why"
).split()


# -- IAM-OnDB ----------------------------------------------------------------


def read_iam_strokes(path):
    """Absolute points `[N, 3]` = `(x, y, end_of_stroke)` of one IAM-OnDB line file."""
    root = ET.parse(path).getroot()
    points = []
    for stroke in root.iter("Stroke"):
        xy = [(float(p.get("x")), float(p.get("y"))) for p in stroke.iter("Point")]
        points += [(x, y, 1.0 if i == len(xy) - 1 else 0.0) for i, (x, y) in enumerate(xy)]
    if not points:
        raise ValueError(f"{path}: no <Stroke><Point> elements")
    return np.asarray(points, np.float32)


def read_iam_transcripts(path):
    """The text lines of an IAM-OnDB ASCII file's `CSR:` section, in order."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    if "CSR:" not in text:
        raise ValueError(f"{path}: no CSR: section")
    return [line.strip() for line in text.split("CSR:", 1)[1].strip().splitlines() if line.strip()]


def read_iam_lines(root, forms=None):
    """`(offsets [N, 3], transcript)` of every IAM-OnDB line under `root` (of the
    forms named in `forms`, when given, e.g. "a01-000u").

    A line's strokes `lineStrokes/a01/a01-000/a01-000u-01.xml` are line 1 of the
    `CSR:` section of `ascii/a01/a01-000/a01-000u.txt`. Lines whose transcript is
    missing are left out (their count is the second value returned).
    """
    import glob
    import os

    lines, missing = [], 0
    for path in sorted(glob.glob(os.path.join(root, "lineStrokes", "**", "*.xml"), recursive=True)):
        form, _, number = os.path.basename(path)[: -len(".xml")].rpartition("-")
        if forms is not None and form not in forms:
            continue
        relative = os.path.relpath(os.path.dirname(path), os.path.join(root, "lineStrokes"))
        ascii_path = os.path.join(root, "ascii", relative, form + ".txt")
        transcripts = read_iam_transcripts(ascii_path) if os.path.exists(ascii_path) else []
        if not number.isdigit() or not 0 < int(number) <= len(transcripts):
            missing += 1
            continue
        lines.append((to_offsets(read_iam_strokes(path)), transcripts[int(number) - 1]))
    return lines, missing


# IAM-OnDB's writer-independent task split (the lists of forms that come with it):
# training set, validation sets 1 and 2, test set: 5,364, 1,438, 1,518 and 3,859 lines.
IAM_SPLIT_FILES = {
    "train": "trainset.txt",
    "validation1": "testset_v.txt",
    "validation2": "testset_t.txt",
    "test": "testset_f.txt",
}


def read_iam_split(root):
    """`{split: set of form ids}` from the split lists in `root` (one form id per line)."""
    import os

    split = {}
    for name, filename in IAM_SPLIT_FILES.items():
        path = os.path.join(root, filename)
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"{path} not found: the paper's split needs IAM-OnDB's task lists "
                f"({', '.join(IAM_SPLIT_FILES.values())}) in --data_path"
            )
        with open(path) as f:
            split[name] = {line.strip() for line in f if line.strip()}
    return split


def graves_split(root):
    """`(train lines, test lines, lines without a transcript)` as Graves (2013, section
    4): trained on the training set, the test set and the larger validation set (2),
    scored on the smaller validation set (1)."""
    split = read_iam_split(root)
    train, missing_train = read_iam_lines(root, split["train"] | split["validation2"] | split["test"])
    test, missing_test = read_iam_lines(root, split["validation1"])
    return train, test, missing_train + missing_test


def to_offsets(points, y_down=True):
    """Absolute `(x, y, eos)` -> `(dx, dy, eos)`; the first offset is from the
    first point to itself (zero). IAM's y grows downwards: flipped so up is +."""
    points = np.asarray(points, np.float32)
    xy = points[:, :2] * (np.array([1.0, -1.0], np.float32) if y_down else 1.0)
    offsets = np.diff(xy, axis=0, prepend=xy[:1])
    return np.concatenate([offsets, points[:, 2:3]], axis=1)


def to_points(offsets):
    """`(dx, dy, eos)` -> absolute `(x, y, eos)`, y up (the inverse of `to_offsets`)."""
    offsets = np.asarray(offsets, np.float32)
    return np.concatenate([np.cumsum(offsets[:, :2], axis=0), offsets[:, 2:3]], axis=1)


@dataclasses.dataclass
class Normaliser:
    """Scales offsets by one standard deviation per axis, from training data
    (the means are kept at zero: a pen offset of zero stays zero)."""

    scale: tuple = (1.0, 1.0)

    @classmethod
    def fit(cls, sequences):
        offsets = np.concatenate([s[:, :2] for s in sequences])
        return cls(tuple(float(v) for v in np.maximum(offsets.std(axis=0), 1e-6)))

    def apply(self, offsets):
        out = np.array(offsets, np.float32, copy=True)
        out[:, :2] /= np.asarray(self.scale, np.float32)
        return out

    def invert(self, offsets):
        out = np.array(offsets, np.float32, copy=True)
        out[:, :2] *= np.asarray(self.scale, np.float32)
        return out


# -- synthetic writers -------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Writer:
    """One synthetic writer's style."""

    font: str
    slant: float  # shear: x += slant * height above the baseline
    scale: float  # overall size
    aspect: float  # height / width
    spacing: float  # letter advance, times the font's
    speed: float  # pen travel between samples, in font units
    tremor: float  # standard deviation of point jitter, in font units

    @classmethod
    def random(cls, rng):
        return cls(
            font=FONTS[rng.integers(len(FONTS))],
            slant=float(rng.uniform(-0.15, 0.45)),
            scale=float(rng.uniform(0.8, 1.25)),
            aspect=float(rng.uniform(0.85, 1.2)),
            spacing=float(rng.uniform(0.9, 1.2)),
            speed=float(rng.uniform(1.6, 2.6)),
            tremor=float(rng.uniform(0.05, 0.25)),
        )


def writers(count, seed=0):
    rng = np.random.default_rng(seed)
    return [Writer.random(rng) for _ in range(count)]


_FONT_CACHE = {}


def _font(name):
    if name not in _FONT_CACHE:
        font = HersheyFonts()
        font.load_default_font(name)
        _FONT_CACHE[name] = font
    return _FONT_CACHE[name]


def _layout(text, writer, rng):
    """Pen-down polylines in font units, y up, letters joined where the font joins them."""
    font = _font(writer.font)
    strokes, cursor = [], 0.0
    for glyph in font.glyphs_for_text(text):
        advance = glyph.char_width * writer.spacing * rng.uniform(0.95, 1.05)
        for stroke in glyph.strokes:
            xy = np.asarray(stroke, np.float32)
            xy = np.stack([xy[:, 0] - glyph.left_offset + cursor, -xy[:, 1]], axis=1)
            # Cursive letters start where the previous one ended (before our spacing moved it): join them.
            if strokes and np.abs(strokes[-1][-1] - xy[0]).max() <= abs(advance - glyph.char_width) + 1.5:
                strokes[-1] = np.concatenate([strokes[-1], xy])
            else:
                strokes.append(xy)
        cursor += advance
    return strokes


def _resample(stroke, step):
    """Points every `step` units of arc length along a polyline (ends kept)."""
    lengths = np.linalg.norm(np.diff(stroke, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(lengths)])
    if arc[-1] <= 0:
        return stroke[:1]
    samples = np.linspace(0.0, arc[-1], max(2, int(np.ceil(arc[-1] / step)) + 1))
    return np.stack([np.interp(samples, arc, stroke[:, i]) for i in range(2)], axis=1)


def synthesize(text, writer, rng):
    """Offsets `[N, 3]` of `text` written by `writer` (varied a little by `rng`)."""
    slant = writer.slant + rng.normal(0, 0.03)
    sx = writer.scale * rng.uniform(0.95, 1.05)
    sy = sx * writer.aspect * rng.uniform(0.95, 1.05)
    points = []
    for stroke in _layout(text, writer, rng):
        xy = _resample(stroke, writer.speed * rng.uniform(0.9, 1.1))
        xy = xy + rng.normal(0.0, writer.tremor, size=xy.shape)
        xy = np.stack([(xy[:, 0] + slant * xy[:, 1]) * sx, xy[:, 1] * sy], axis=1)
        eos = np.zeros((len(xy), 1), np.float32)
        eos[-1] = 1.0
        points.append(np.concatenate([xy, eos], axis=1))
    if not points:
        raise ValueError(f"nothing to write for {text!r}")
    return to_offsets(np.concatenate(points), y_down=False)


def random_text(rng, min_words=1, max_words=3):
    return " ".join(WORDS[i] for i in rng.integers(len(WORDS), size=rng.integers(min_words, max_words + 1)))


def synthetic_dataset(count, num_writers=8, seed=0, writer_seed=0):
    """`count` samples `(offsets [N, 3], text, writer index)`; the same seeds give the same data."""
    styles = writers(num_writers, writer_seed)
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(count):
        w = int(rng.integers(num_writers))
        text = random_text(rng)
        samples.append((synthesize(text, styles[w], rng), text, w))
    return samples


# -- tf.data -----------------------------------------------------------------


def padded_arrays(sequences, max_length):
    """Right-padded `(inputs, targets, weights)` arrays for teacher forcing: the
    input at t is the point before target t (the start point first); sequences
    longer than `max_length` points are cut (0: none is, padded to the longest)."""
    max_length = max_length or max(len(seq) for seq in sequences)
    start = np.asarray(START_POINT, np.float32)
    n = len(sequences)
    inputs = np.zeros((n, max_length, 3), np.float32)
    targets = np.zeros((n, max_length, 3), np.float32)
    weights = np.zeros((n, max_length), np.float32)
    for i, seq in enumerate(sequences):
        seq = np.asarray(seq, np.float32)[:max_length]
        targets[i, : len(seq)] = seq
        inputs[i, 0] = start
        inputs[i, 1 : len(seq)] = seq[:-1]
        weights[i, : len(seq)] = 1.0
    return inputs, targets, weights


def encode_characters(text, alphabet):
    """Strings `[batch]` -> character ids `[batch, max_chars]` int32, padded with -1.

    In the graph, so the exported signatures map text exactly as training did.
    """
    import tensorflow as tf

    table_size = max(ord(c) for c in alphabet) + 1
    lookup = [len(alphabet)] * table_size
    for i, c in enumerate(alphabet):
        lookup[ord(c)] = i
    codes = tf.strings.unicode_decode(text, "UTF-8", errors="replace")
    ids = tf.ragged.map_flat_values(
        lambda cp: tf.where(cp < table_size, tf.gather(lookup, tf.minimum(cp, table_size - 1)), len(alphabet)),
        codes,
    )
    return tf.cast(ids.to_tensor(default_value=-1), tf.int32)


def padded_dataset(sequences, max_length, batch_size, shuffle_seed=None, repeat=False, texts=None, alphabet=None):
    """Batches `(inputs, targets, weights)` of `padded_arrays`; with `texts`
    (one per sequence) the inputs are `{"points", "text"}`, the text as
    character ids of `alphabet` (`encode_characters`)."""
    import tensorflow as tf

    arrays = padded_arrays(sequences, max_length)
    ds = tf.data.Dataset.from_tensor_slices(arrays if texts is None else (*arrays, list(texts)))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(sequences), seed=shuffle_seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=repeat)
    if texts is not None:
        ds = ds.map(lambda x, y, w, t: ({"points": x, "text": encode_characters(t, alphabet)}, y, w))
    return ds.prefetch(tf.data.AUTOTUNE)
