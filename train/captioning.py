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

from keras_l11.captioning.configs import CAPTIONING_CONFIGS, add_data_flags, build_caption_network
from keras_l11.training import cli


def main(argv=None):
    flags = cli.parse_flags(__spec__.name, __doc__, CAPTIONING_CONFIGS, add_data_flags, argv)
    import keras

    from keras_l11.captioning import task as caption_lib
    from keras_l11.captioning.export import caption_signatures
    from keras_l11.captioning.task import evaluate_captions
    from keras_l11.training import harness

    run, (train, test), tokenizer = caption_lib.start_caption_job(flags, "captioning")
    config = run.config
    arrays = caption_lib.caption_arrays(train, tokenizer, config.max_length)
    print(f"{len(train)} training images ({len(arrays[1])} captions), vocabulary {tokenizer.vocab_size}")
    result = run.fit(
        build_model=lambda: build_caption_network(config, tokenizer.vocab_size),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=lambda: [],
        train_data=lambda batch, seed, start: caption_lib.training_rows(arrays, batch, seed).skip(start),
    )
    model = run.local_copy(result.model)
    scores, examples = evaluate_captions(model, tokenizer, train, test, config)
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
    cli.run_main(main)
