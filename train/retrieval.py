"""Image-sentence retrieval: images and sentences embedded in one space,
trained with a bidirectional ranking loss (the lecture's "ranking and
retrieval"; Karpathy & Fei-Fei 2015).

Reports recall@1, 5, 10 and the median rank of image -> sentence and
sentence -> image retrieval over the test images and all their sentences,
beside chance. Offline: generated scenes of two shapes in a spatial relation
(five sentences each; scenes with the same content are indistinguishable, so
recall@1 has a ceiling below 1). `--config paper` reads COCO through TFDS.
The run writes its test images as PNG files to `<model_dir>/gallery/`, to
search with `python -m keras_l11.captioning.client`.

The export `retrieval` has `embed_text` (`serving_default`): `sentences [B]`
strings -> `embeddings [B, D]` (unit vectors), and `embed_image`: encoded
`images [B]` -> `embeddings`. Similarity is the dot product.

    python -m train.retrieval --config small
"""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from keras_l11.captioning import task as caption_lib
from keras_l11.captioning.metrics import retrieval_scores
from keras_l11.captioning.retrieval import BidirectionalRankingLoss, ImageSentenceEmbedding
from keras_l11.ops.images import decode_images, resize_each
from keras_l11.training import harness
from keras_l11.training.export import Signature


@dataclasses.dataclass(frozen=True)
class RetrievalConfig(caption_lib.CaptionDataConfig):
    embedding_dim: int = 128
    word_dim: int = 64
    units: int = 64
    margin: float = 0.2
    max_length: int = 16


CONFIGS = {
    "smoke": RetrievalConfig(
        batch_size=32, steps=300, steps_per_epoch=100, learning_rate=1e-3, train_images=400, test_images=60
    ),
    "small": RetrievalConfig(batch_size=32, steps=1000, steps_per_epoch=100, learning_rate=1e-3),
    # Karpathy & Fei-Fei on COCO: a VGG16 image encoder, a 1000-dim space, margin 0.1 (ours: Kiros et al.'s 0.2).
    "paper": RetrievalConfig(
        batch_size=100,
        steps=200_000,
        steps_per_epoch=2000,
        learning_rate=2e-4,
        data="coco",
        image_size=224,
        backbone="VGG16",
        weights="imagenet",
        dense_units=(4096,),
        embedding_dim=1000,
        word_dim=300,
        units=512,
    ),
}


def pair_arrays(examples, tokenizer, max_length):
    """`({"images", "sentences"}, dummy targets)`: one row per (image, sentence)."""
    inputs, _, _ = caption_lib.caption_arrays(examples, tokenizer, max_length)
    sentences = inputs["caption_in"][:, 1:].astype(np.int32)  # the words, without the start token
    return {"images": inputs["images"], "sentences": sentences}, np.zeros(len(sentences), np.float32)


def sentence_ids(tokenizer, sentences, max_length):
    """Padded word ids `[B, max_length]` of sentences (in the graph)."""
    return tokenizer.encode(sentences)[:, :max_length].to_tensor(0, shape=[None, max_length])


def evaluate(model, tokenizer, test, max_length, batch=100):
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


def retrieval_signatures(model, tokenizer, config):
    def embed_text(sentences):
        return {"embeddings": model.embed_sentences(sentence_ids(tokenizer, sentences, config.max_length))}

    def embed_image(images):
        pixels, sizes = decode_images(images)
        return {"embeddings": model.embed_images(resize_each(pixels, sizes, model.height, model.width))}

    text = Signature(embed_text, {"sentences": tf.TensorSpec([None], tf.string)})
    image = Signature(embed_image, {"images": tf.TensorSpec([None], tf.string)})
    return {"serving_default": text, "embed_text": text, "embed_image": image}


def write_gallery(test, folder):
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    for i, ex in enumerate(test):
        Image.fromarray(ex["image"]).save(os.path.join(folder, f"{i:04d}.png"))
    return folder


def main(argv=None):
    flags = harness.parse_flags(__doc__.split("\n\n")[0], CONFIGS, caption_lib.add_data_flags, argv)
    run, (train, test), tokenizer = caption_lib.start_caption_job(flags, "retrieval")
    config = run.config
    arrays = pair_arrays(train, tokenizer, config.max_length)
    result = run.fit(
        build_model=lambda: ImageSentenceEmbedding(
            tokenizer.vocab_size,
            config.image_size,
            config.image_size,
            config.backbone,
            config.weights or None,
            config.dense_units,
            config.embedding_dim,
            config.word_dim,
            config.units,
        ),
        loss=BidirectionalRankingLoss(config.margin),
        metrics=lambda: [],
        # Whole batches only: the loss compares each pair with the batch's others.
        train_data=lambda batch, seed, start: caption_lib.training_rows(arrays, batch, seed, True).skip(start),
    )
    model = run.local_copy(result.model)
    scores, chance = evaluate(model, tokenizer, test, config.max_length)
    run.summary["evaluation"] = {**scores, **{f"chance_{k}": v for k, v in chance.items()}}
    print(harness.format_table(["", *scores], [["model", *scores.values()], ["chance", *chance.values()]]))
    if run.is_chief:
        run.summary["gallery"] = write_gallery(test, os.path.join(run.model_dir, "gallery"))
    run.export(result.model, "retrieval", lambda m: retrieval_signatures(m, tokenizer, config), [tokenizer])
    run.write_summary()
    return run.summary


if __name__ == "__main__":
    harness.run_main(main)
