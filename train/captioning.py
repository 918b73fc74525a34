"""Image captioning with a CNN encoder and an LSTM decoder (Show and Tell;
NeuralTalk).

Trains on (image, caption) pairs with teacher forcing, then captions the test
images greedily and with beam search and scores them with the COCO caption
evaluation code (BLEU-1..4, CIDEr, ROUGE-L), beside a baseline that gives every
image the most frequent training caption. Offline: generated scenes of two
shapes in a spatial relation, five reference sentences each. `--config paper`
reads COCO captions through TFDS (prepared beforehand) with a VGG16 encoder.

The export `captioning` has `caption` (`serving_default`): encoded `images`
`[B]` and `beam_size` (a scalar, 1 to `max_beam_size`) -> `captions [B, beam]`
and their `log_probs [B, beam]` (nats), best first.

    python -m train.captioning --config small
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from keras_l11.captioning import task as caption_lib
from keras_l11.captioning.caption_network import CaptionNetwork
from keras_l11.captioning.metrics import caption_scores
from keras_l11.ops.images import decode_images, resize_each
from keras_l11.training import harness
from keras_l11.training.export import Signature


@dataclasses.dataclass(frozen=True)
class CaptioningConfig(caption_lib.CaptionDataConfig):
    embedding_dim: int = 128
    units: int = 256
    dropout: float = 0.0
    max_length: int = 12  # words per caption
    beam_size: int = 3
    max_beam_size: int = 5  # the export's largest beam


CONFIGS = {
    "smoke": CaptioningConfig(
        batch_size=32, steps=400, steps_per_epoch=100, learning_rate=2e-3, train_images=400, test_images=60
    ),
    "small": CaptioningConfig(batch_size=32, steps=1500, steps_per_epoch=150, learning_rate=2e-3),
    # Show and Tell on COCO: ImageNet CNN (here VGG16), 512 embeddings and LSTM, dropout, SGD, beam 3.
    "paper": CaptioningConfig(
        batch_size=32,
        steps=500_000,
        steps_per_epoch=5000,
        learning_rate=2.0,
        optimizer="sgd",
        clip_norm=5.0,
        data="coco",
        image_size=224,
        backbone="VGG16",
        weights="imagenet",
        dense_units=(4096,),
        embedding_dim=512,
        units=512,
        dropout=0.5,
        max_length=20,
    ),
}


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


def evaluate(model, tokenizer, train, test, config, batch=50):
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
    baseline = caption_lib.most_frequent_caption(train)
    results["most frequent caption"] = caption_scores(references, [baseline] * len(test))
    return results, examples


def caption_signatures(model, tokenizer, config):
    def caption(images, beam_size):
        pixels, sizes = decode_images(images)
        resized = resize_each(pixels, sizes, model.height, model.width)
        index = tf.clip_by_value(beam_size, 1, config.max_beam_size) - 1
        branches = [
            lambda k=k: decode_captions(model, tokenizer, resized, k, config.max_length)
            for k in range(1, config.max_beam_size + 1)
        ]
        texts, log_probs = tf.switch_case(index, branches)
        return {"captions": texts, "log_probs": log_probs}

    inputs = {"images": tf.TensorSpec([None], tf.string), "beam_size": tf.TensorSpec([], tf.int32)}
    signature = Signature(caption, inputs)
    return {"serving_default": signature, "caption": signature}


def main(argv=None):
    flags = harness.parse_flags(__doc__.split("\n\n")[0], CONFIGS, caption_lib.add_data_flags, argv)
    run, (train, test), tokenizer = caption_lib.start_caption_job(flags, "captioning")
    config = run.config
    arrays = caption_lib.caption_arrays(train, tokenizer, config.max_length)
    print(f"{len(train)} training images ({len(arrays[1])} captions), vocabulary {tokenizer.vocab_size}")
    result = run.fit(
        build_model=lambda: CaptionNetwork(
            tokenizer.vocab_size,
            config.image_size,
            config.image_size,
            config.backbone,
            config.weights or None,
            config.dense_units,
            config.embedding_dim,
            config.units,
            config.dropout,
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=lambda: [],
        train_data=lambda batch, seed, start: caption_lib.training_rows(arrays, batch, seed).skip(start),
    )
    model = run.local_copy(result.model)
    scores, examples = evaluate(model, tokenizer, train, test, config)
    run.summary["evaluation"] = scores
    run.summary["examples"] = examples
    measures = ["BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "CIDEr", "ROUGE-L"]
    rows = [[name, *(s[m] for m in measures)] for name, s in scores.items()]
    print(harness.format_table([f"{len(test)} test images", *measures], rows))
    for ex in examples:
        print(f"  {ex['caption']}  logprob: {ex['log_prob']:.2f}")
    run.export(result.model, "captioning", lambda m: caption_signatures(m, tokenizer, config), [tokenizer])
    run.write_summary()
    return run.summary


if __name__ == "__main__":
    harness.run_main(main)
