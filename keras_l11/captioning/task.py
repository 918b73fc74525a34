"""What the captioning and retrieval jobs share: their data (generated scenes,
COCO through TFDS, Flickr8k/30k from the user's files) and its flag, the image
encoder's config, the vocabulary built with a word-count threshold, captions
as padded token arrays, and the training stream of (image, caption) rows."""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from keras_l11.captioning import data as caption_data
from keras_l11.language import words
from keras_l11.layers.tokenizers import END, START
from keras_l11.training.config import TrainConfig


@dataclasses.dataclass(frozen=True)
class CaptionDataConfig(TrainConfig):
    """The data and image-encoder fields of the captioning and retrieval configs.

    Attributes:
        data: "scenes" (offline), "coco" (TFDS `coco_captions`), "flickr8k"
            or "flickr30k" (the user's files, `--data_path`).
        image_size: images are resized to image_size x image_size.
        train_images, test_images: offline set sizes.
        min_count: words seen fewer times in the training captions are `<unk>`.
        backbone, weights, dense_units: the image encoder
            (`keras_l11.layers.backbones`; weights "" for none).
    """

    data: str = "scenes"
    image_size: int = 64
    train_images: int = 2000
    test_images: int = 200
    min_count: int = 5
    backbone: str = "small_cnn"
    weights: str = ""
    dense_units: tuple = (256,)


def add_data_flags(parser):
    g = parser.add_argument_group("data")
    g.add_argument("--data_path", default=None, help="Flickr8k/30k: the folder of the token file and images/")


FLICKR_FILES = {"flickr8k": "Flickr8k.token.txt", "flickr30k": "results_20130124.token"}


def load_caption_data(config, data_path=None):
    """`(train, test)` lists of `{"image", "captions"}`."""
    if config.data == "scenes":
        make = lambda n, seed: caption_data.caption_scenes(n, seed, config.image_size)  # noqa: E731
        return make(config.train_images, 0), make(config.test_images, 1)
    if config.data == "coco":
        return (
            caption_data.coco_captions("train", config.image_size),
            caption_data.coco_captions("val", config.image_size),
        )
    if config.data in FLICKR_FILES:
        if not data_path:
            raise ValueError(f"--config with data={config.data} needs --data_path, the folder of its files")
        token_file = os.path.join(data_path, FLICKR_FILES[config.data])
        examples = caption_data.flickr_captions(token_file, os.path.join(data_path, "images"), config.image_size)
        held_out = min(config.test_images, len(examples) // 5)  # the last images are the test split
        return examples[:-held_out], examples[-held_out:]
    raise ValueError(f"data must be 'scenes', 'coco', 'flickr8k' or 'flickr30k', got {config.data!r}")


def caption_tokenizer(train, min_count):
    """A `WordTokenizer` of the training captions' words seen at least
    `min_count` times, with `<start>` and `<end>` (no line token)."""
    texts = [c for ex in train for c in ex["captions"]]
    return words.word_tokenizer(texts, 1_000_000, min_count, line_token=None, start_token=START, end_token=END)


def caption_arrays(examples, tokenizer, max_length):
    """One row per (image, caption): `({"images", "caption_in"}, caption_out,
    weights)` for teacher forcing, captions cut to `max_length` words."""
    texts = [c for ex in examples for c in ex["captions"]]
    images = np.stack([ex["image"] for ex in examples for _ in ex["captions"]])
    ids = tokenizer.encode(texts)[:, :max_length]
    start = tf.fill([ids.nrows(), 1], tokenizer.start_id)
    end = tf.fill([ids.nrows(), 1], tokenizer.end_id)
    caption_in = tf.concat([start, ids], axis=1).to_tensor(0, shape=[None, max_length + 1]).numpy()
    caption_out = tf.concat([ids, end], axis=1).to_tensor(0, shape=[None, max_length + 1]).numpy()
    return {"images": images, "caption_in": caption_in}, caption_out, (caption_out != 0).astype(np.float32)


def most_frequent_caption(train):
    """The baseline: the training caption seen most often (ties: alphabetically first)."""
    texts = [" ".join(c.lower().split()) for ex in train for c in ex["captions"]]
    values, counts = np.unique(texts, return_counts=True)
    return str(values[np.argmax(counts)])


def training_rows(arrays, batch, seed, drop_remainder=False):
    """Endless shuffled batches of `arrays` (a tuple whose first item is a dict
    with uint8 `images`), the images as float32."""
    ds = tf.data.Dataset.from_tensor_slices(arrays).shuffle(len(arrays[1]), seed=seed).repeat()

    def as_float(inputs, *rest):
        return ({**inputs, "images": tf.cast(inputs["images"], tf.float32)}, *rest)

    return ds.batch(batch, drop_remainder=drop_remainder).map(as_float)


def start_caption_job(flags, job_name):
    """What both jobs do first: load the config's data (exit with a message
    when it is missing), start the run (in `runs/<job_name>/<config>` by
    default) and build the vocabulary. Returns `(run, (train, test), tokenizer)`."""
    from keras_l11.training import harness

    with harness.exit_on_missing_data():
        data = load_caption_data(flags.train_config, flags.data_path)
    run = harness.start(flags, job_name)
    return run, data, caption_tokenizer(data[0], flags.train_config.min_count)
