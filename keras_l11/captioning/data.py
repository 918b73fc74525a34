"""Images with reference sentences, for captioning and image-sentence retrieval.

Offline: generated scenes of two coloured shapes in a spatial relation ("a red
circle above a blue square"), each with five reference sentences from a small
grammar that says the same thing in different words and orders ("a blue square
below a red circle", "there is a red circle over a blue square", ...), so BLEU
and CIDEr reward getting the colours, the shapes and the relation right, and
retrieval has exactly one right image per sentence up to the scene's content.

The papers' data: COCO captions through TFDS (`coco_captions`, prepared
beforehand), and Flickr8k / Flickr30k from the files their users download
(`Flickr8k.token.txt` or `results_20130124.token`, the image folder, and the
split: Flickr8k's `Flickr_8k.{train,dev,test}Images.txt` or Karpathy's
`dataset_flickr8k.json` / `dataset_flickr30k.json`).
"""

import collections
import json
import os

import numpy as np

from keras_l11.data import install

COLOURS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (50, 80, 230), "yellow": (235, 205, 30)}
SHAPES = ("circle", "square", "triangle")
# relation -> (ways to say it, the inverse relation)
RELATIONS = {
    "left": (("left of", "to the left of"), "right"),
    "right": (("right of", "to the right of"), "left"),
    "above": (("above", "over"), "below"),
    "below": (("below", "under"), "above"),
}
REFERENCES = 5


def _draw(draw, shape, colour, box):
    if shape == "circle":
        draw.ellipse(box, fill=colour)
    elif shape == "square":
        draw.rectangle(box, fill=colour)
    else:
        x0, y0, x1, y1 = box
        draw.polygon([((x0 + x1) / 2, y0), (x1, y1), (x0, y1)], fill=colour)


def scene_sentences(first, relation, second, rng, count=REFERENCES):
    """`count` different sentences that describe `first` (colour, shape)
    `relation` `second`, from the grammar."""
    a, b = (f"{c} {s}" for c, s in (first, second))
    words, inverse = RELATIONS[relation]
    inverse_words = RELATIONS[inverse][0]
    candidates = []
    for w in words:
        candidates += [
            f"a {a} {w} a {b}",
            f"a {a} is {w} a {b}",
            f"there is a {a} {w} a {b}",
            f"the {a} is {w} the {b}",
        ]
    for w in inverse_words:
        candidates += [f"a {b} {w} a {a}", f"a {b} is {w} a {a}", f"the {b} is {w} the {a}"]
    return [candidates[i] for i in rng.choice(len(candidates), count, replace=False)]


def caption_scene(rng, size=64):
    """`(image uint8 [size, size, 3], sentences, (first, relation, second))`."""
    from PIL import Image, ImageDraw

    colours, shapes = list(COLOURS), SHAPES
    while True:  # two objects that differ in colour or shape
        first = (colours[rng.integers(len(colours))], shapes[rng.integers(len(shapes))])
        second = (colours[rng.integers(len(colours))], shapes[rng.integers(len(shapes))])
        if first != second:
            break
    relation = list(RELATIONS)[rng.integers(len(RELATIONS))]
    s = int(rng.integers(size // 5, size // 3))  # object size
    # Positions: the first object on one side of the middle, the second on the other.
    along = rng.integers(0, size // 2 - s + 1, 2)  # along the relation's axis, each in its half
    across = rng.integers(0, size - s + 1, 2)  # free across it
    low, high = along[0], size // 2 + along[1]
    near, far = (low, high) if relation in ("left", "above") else (high, low)
    horizontal = relation in ("left", "right")
    places = [(near, across[0]), (far, across[1])]
    background = np.clip(rng.normal(200, 12, (size, size, 3)), 0, 255).astype(np.uint8)
    image = Image.fromarray(background)
    draw = ImageDraw.Draw(image)
    for (colour, shape), (p, q) in zip((first, second), places):
        x, y = (p, q) if horizontal else (q, p)
        _draw(draw, shape, COLOURS[colour], (x, y, x + s - 1, y + s - 1))
    return np.asarray(image), scene_sentences(first, relation, second, rng), (first, relation, second)


def caption_scenes(count, seed=0, size=64):
    """`count` generated scenes: `[{"image", "captions", "scene"}]`."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        image, sentences, scene = caption_scene(rng, size)
        out.append({"image": image, "captions": sentences, "scene": scene})
    return out


def coco_captions(split, size, data_dir=None):
    """COCO captions from a prepared TFDS `coco_captions` (never downloads):
    `[{"image" resized to size x size, "captions"}]`."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    ds = install.prepared_tfds("coco_captions", split, data_dir)
    out = []
    for ex in tfds.as_numpy(ds):
        image = tf.image.resize(ex["image"], [size, size], antialias=True).numpy().round().astype(np.uint8)
        out.append({"image": image, "captions": [c.decode("utf-8") for c in ex["captions"]["text"]]})
    return out


def read_flickr_tokens(token_file):
    """`{image file name: [captions]}` from Flickr8k's `Flickr8k.token.txt` or
    Flickr30k's `results_20130124.token` (lines `name.jpg#k<TAB>caption`)."""
    captions = collections.defaultdict(list)
    with open(token_file, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            key, sep, caption = line.partition("\t")
            name, hash_, _ = key.partition("#")
            if not sep or not hash_:
                raise ValueError(f"{token_file}:{number}: expected 'image.jpg#k<TAB>caption', got {line[:80]!r}")
            captions[name].append(caption.strip())
    return dict(captions)


# Flickr8k's own split (Flickr8k_text.zip): 6,000 / 1,000 / 1,000 images, the split
# Show and Tell (Table 1) and Karpathy & Fei-Fei report on.
FLICKR8K_SPLIT_FILES = {
    "train": "Flickr_8k.trainImages.txt",
    "val": "Flickr_8k.devImages.txt",
    "test": "Flickr_8k.testImages.txt",
}


def read_image_list(path):
    """Image file names, one per line (Flickr8k's `Flickr_8k.*Images.txt`)."""
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def read_karpathy_split(path):
    """`{"train", "val", "test": [image file names]}` from Karpathy's split file
    (`dataset_flickr8k.json`, `dataset_flickr30k.json`: `{"images": [{"filename",
    "split", "sentences"}]}`); "restval" images count as training images."""
    with open(path, encoding="utf-8") as f:
        images = json.load(f)["images"]
    split = {"train": [], "val": [], "test": []}
    for image in images:
        name = {"restval": "train"}.get(image["split"], image["split"])
        if name not in split:
            raise ValueError(f"{path}: image {image.get('filename')!r} has an unknown split {image['split']!r}")
        split[name].append(image["filename"])
    return split


def flickr_split(data_path, dataset):
    """The paper split of `dataset` ("flickr8k" or "flickr30k") from the files in
    `data_path`: Flickr8k's own image lists, else Karpathy's `dataset_<name>.json`
    (Flickr30k has no official split; Karpathy's 1,000 val / 1,000 test images are
    the ones its papers report on)."""
    own = {k: os.path.join(data_path, f) for k, f in FLICKR8K_SPLIT_FILES.items()}
    if dataset == "flickr8k" and all(os.path.exists(p) for p in own.values()):
        return {k: read_image_list(p) for k, p in own.items()}
    karpathy = os.path.join(data_path, f"dataset_{dataset}.json")
    if os.path.exists(karpathy):
        return read_karpathy_split(karpathy)
    lists = ", ".join(FLICKR8K_SPLIT_FILES.values()) + " or " if dataset == "flickr8k" else ""
    raise FileNotFoundError(f"{data_path}: no split of {dataset}: put {lists}Karpathy's dataset_{dataset}.json there")


def flickr_captions(token_file, image_dir, size, names=None):
    """Flickr8k / Flickr30k from the user's files: `[{"image", "captions"}]`
    for `names` (a split's image list, e.g. `Flickr_8k.testImages.txt`'s lines;
    default: every captioned image), each image resized to size x size."""
    from PIL import Image

    captions = read_flickr_tokens(token_file)
    out = []
    for name in names if names is not None else sorted(captions):
        path = os.path.join(image_dir, name)
        if name not in captions:
            raise ValueError(f"{name}: an image of the split has no caption in {token_file}")
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path}: an image named in {token_file} is missing")
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB").resize((size, size), Image.BILINEAR))
        out.append({"image": pixels, "captions": captions[name]})
    return out
