"""Translation with a deep LSTM encoder-decoder (Sutskever, Vinyals & Le 2014).

The encoder reads the source sentence reversed, the decoder writes the
translation, and a beam search returns the k best translations with their
log-probabilities. Quality is BLEU (sacrebleu) on held-out pairs. Offline the
job translates Spanish Bible verses (Reina-Valera 1909) into English (King James
Version), keeping verses of at most `max_words` words; the paper translated
WMT'14 English to French (34.8 BLEU for an ensemble of 5 reversed deep LSTMs,
beam 12), which the `paper` config reads from TFDS when prepared.

    python -m train.translate --config small
"""

from keras_l11.language.configs import TRANSLATE_CONFIGS
from keras_l11.training import cli


def add_job_flags(parser):
    g = parser.add_argument_group("translate")
    g.add_argument("--tfds_dir", default=None, help="TFDS data_dir holding a prepared wmt14_translate/fr-en")


def main(argv=None):
    flags = cli.parse_flags(__spec__.name, __doc__, TRANSLATE_CONFIGS, add_job_flags, argv)
    import keras

    from keras_l11.language.export import translation_signatures
    from keras_l11.language.metrics import Perplexity
    from keras_l11.language.task import bleu, encode_pairs, load_translation_pairs, make_tokenizers, translation_dataset
    from keras_l11.training import harness

    run = harness.start(flags, "translate")
    config = run.config
    with harness.exit_on_missing_data():
        train, test = load_translation_pairs(config, flags.tfds_dir)
    source_tokenizer, target_tokenizer = make_tokenizers(train, config)
    train_arrays = encode_pairs(train, source_tokenizer, target_tokenizer)
    test_arrays = encode_pairs(test, source_tokenizer, target_tokenizer)
    print(
        f"{len(train)} training and {len(test)} held-out pairs; vocabularies "
        f"{source_tokenizer.vocab_size} (source), {target_tokenizer.vocab_size} (target)"
    )
    result = run.fit(
        build_model=lambda: config.model.build(source_tokenizer.vocab_size, target_tokenizer.vocab_size),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=lambda: [],
        weighted_metrics=lambda: [Perplexity()],  # over real tokens, not padding
        train_data=lambda batch, seed, start: translation_dataset(train_arrays, batch, seed=seed, repeat=True).skip(
            start
        ),
        eval_data=lambda batch: translation_dataset(test_arrays, batch),
    )

    model = run.local_copy(result.model)
    scores = bleu(model, test, source_tokenizer, target_tokenizer, config)
    run.summary["evaluation"] = scores
    print(
        harness.format_table(
            ["held-out pairs", f"BLEU (beam {config.beam_size})", "BLEU (greedy)", "exact"],
            [[len(test), scores["bleu_beam"], scores["bleu_greedy"], scores["exact_match_beam"]]],
        )
    )
    for example in scores["examples"]:
        print(f"  {example['source']}\n    ref: {example['reference']}\n    out: {example['beam']}")
    run.export(
        result.model,
        "translate",
        lambda local: translation_signatures(
            local, source_tokenizer, target_tokenizer, config.beam_size, config.max_decode_length
        ),
        [source_tokenizer, target_tokenizer],
    )
    run.write_summary()
    return run.summary


if __name__ == "__main__":
    cli.run_main(main)
