"""What the captioning and retrieval jobs share: their data (generated scenes,
COCO through TFDS, Flickr8k/30k from the user's files) and its flag, the vocabulary
built with a word-count threshold, captions as padded token arrays, the training
stream of (image, caption) rows, decoding, and the evaluation protocols (caption
scores against the most frequent caption; recall@K and median ranks against chance)."""

import os

import numpy as np
import tensorflow as tf

from keras_l11.captioning import data as caption_data
from keras_l11.captioning.metrics import caption_scores, retrieval_scores
from keras_l11.language import words
from keras_l11.layers.tokenizers import END, START

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
        split = caption_data.flickr_split(data_path, config.data)
        images = os.path.join(data_path, "images")
        return tuple(
            caption_data.flickr_captions(token_file, images, config.image_size, split[name])
            for name in ("train", "test")
        )
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


def decode_captions(model, tokenizer, images, beam_size, max_length):
    """`(captions [B, beam] str, log_probs [B, beam])`; beam 0 is greedy decoding."""
    start, end = tokenizer.start_id, tokenizer.end_id
    if beam_size == 0:
        tokens, log_probs = model.greedy(images, start, end, max_length)
        tokens, log_probs = tokens[:, None], log_probs[:, None]
    else:
        tokens, log_probs = model.beam_search(images, start, end, beam_size, max_length)
    batch, beams = tf.shape(tokens)[0], tf.shape(tokens)[1]
    texts = tokenizer.decode(tf.reshape(tokens, [batch * beams, -1]), stop_id=end)
    return tf.reshape(texts, [batch, beams]), log_probs


def evaluate_captions(model, tokenizer, train, test, config, batch=50):
    """Caption scores of greedy and beam decoding and of the most frequent caption."""
    references = [ex["captions"] for ex in test]
    results, examples = {}, []
    for name, beam in (("greedy", 0), (f"beam {config.beam_size}", config.beam_size)):
        fn = tf.function(lambda images, beam=beam: decode_captions(model, tokenizer, images, beam, config.max_length))
        best, scores = [], []
        for i in range(0, len(test), batch):
            texts, log_probs = fn(np.stack([ex["image"] for ex in test[i : i + batch]]).astype(np.float32))
            best += [t.decode() for t in texts[:, 0].numpy()]
            scores += log_probs[:, 0].numpy().tolist()
        results[name] = caption_scores(references, best)
        examples = [{"caption": c, "log_prob": s, "references": r} for c, s, r in zip(best, scores, references)][:5]
    baseline = most_frequent_caption(train)
    results["most frequent caption"] = caption_scores(references, [baseline] * len(test))
    return results, examples


def pair_arrays(examples, tokenizer, max_length):
    """`({"images", "sentences"}, dummy targets)`: one row per (image, sentence)."""
    inputs, _, _ = caption_arrays(examples, tokenizer, max_length)
    sentences = inputs["caption_in"][:, 1:].astype(np.int32)  # the words, without the start token
    return {"images": inputs["images"], "sentences": sentences}, np.zeros(len(sentences), np.float32)


def sentence_ids(tokenizer, sentences, max_length):
    """Padded word ids `[B, max_length]` of sentences (in the graph)."""
    return tokenizer.encode(sentences)[:, :max_length].to_tensor(0, shape=[None, max_length])


def evaluate_retrieval(model, tokenizer, test, max_length, batch=100):
    """Recall@K and median ranks over the test images and all their sentences."""
    images = np.stack([ex["image"] for ex in test]).astype(np.float32)
    sentences = [c for ex in test for c in ex["captions"]]
    owner = np.repeat(np.arange(len(test)), [len(ex["captions"]) for ex in test])
    image_vectors = np.concatenate(
        [model.embed_images(images[i : i + batch]).numpy() for i in range(0, len(images), batch)]
    )
    text_vectors = np.concatenate(
        [
            model.embed_sentences(sentence_ids(tokenizer, sentences[i : i + batch], max_length)).numpy()
            for i in range(0, len(sentences), batch)
        ]
    )
    scores = retrieval_scores(image_vectors @ text_vectors.T, owner)
    chance = retrieval_scores(np.random.default_rng(0).normal(size=(len(test), len(sentences))), owner)
    return scores, chance
