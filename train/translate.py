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

import dataclasses

import keras
import numpy as np
import sacrebleu
import tensorflow as tf

from keras_l11.language import parallel, words
from keras_l11.language.metrics import Perplexity
from keras_l11.language.seq2seq import Seq2SeqTranslator, reversed_source
from keras_l11.layers.tokenizers import END, START
from keras_l11.training import harness
from keras_l11.training.config import TrainConfig
from keras_l11.training.export import Signature


@dataclasses.dataclass(frozen=True)
class TranslateConfig(TrainConfig):
    units: int = 256
    num_layers: int = 2
    embedding_dim: int = 0  # 0 = units
    dropout: float = 0.0
    # Data: "bible" (Spanish -> English verses) or "wmt14" (English -> French, TFDS).
    data: str = "bible"
    max_words: int = 20  # longer pairs are left out (either side)
    train_pairs: int = 0  # 0 = all that remain after the held-out split
    test_pairs: int = 500
    source_vocab: int = 8000
    target_vocab: int = 6000
    min_count: int = 2
    beam_size: int = 4
    max_decode_length: int = 30


CONFIGS = {
    # A handful of pairs, learnt by heart (tests check every one comes back exactly).
    "smoke": TranslateConfig(
        batch_size=8,
        steps=300,
        steps_per_epoch=100,
        learning_rate=1e-2,
        units=64,
        num_layers=1,
        max_words=8,
        train_pairs=8,
        test_pairs=8,
        min_count=1,
        beam_size=2,
        max_decode_length=12,
    ),
    # About 21 minutes on a 2-core CPU (0.4 s per step).
    "small": TranslateConfig(
        batch_size=64, steps=3000, steps_per_epoch=250, learning_rate=2e-3, clip_norm=5.0, dropout=0.2
    ),
    # The paper: 4 layers of 1000 cells, 1000-dim embeddings, SGD at 0.7 (halved every half epoch after 5 epochs),
    # batches of 128, gradient norm clipped at 5, vocabularies of 160k / 80k words, beam 12.
    "paper": TranslateConfig(
        batch_size=128,
        steps=300_000,
        steps_per_epoch=2000,
        learning_rate=0.7,
        optimizer="sgd",
        clip_norm=5.0,
        units=1000,
        num_layers=4,
        data="wmt14",
        max_words=50,
        test_pairs=3003,
        source_vocab=160_000,
        target_vocab=80_000,
        min_count=1,
        beam_size=12,
        max_decode_length=80,
    ),
}


def add_job_flags(parser):
    g = parser.add_argument_group("translate")
    g.add_argument("--tfds_dir", default=None, help="TFDS data_dir holding a prepared wmt14_translate/fr-en")


def load_pairs(config, tfds_dir):
    """`(train pairs, test pairs)` of `(source, target)` strings; training pairs
    longer than `max_words` on either side are left out (and Bible pairs held out)."""

    def short(pairs):
        return [p for p in pairs if max(len(p[0].split()), len(p[1].split())) <= config.max_words]

    if config.data == "wmt14":  # the paper's test set (newstest2014) is kept whole
        return short(parallel.wmt14_pairs("train", data_dir=tfds_dir)), parallel.wmt14_pairs("test", data_dir=tfds_dir)
    if config.data != "bible":
        raise ValueError(f"data must be 'bible' or 'wmt14', got {config.data!r}")
    pairs = short(parallel.bible_pairs())
    if config.train_pairs:  # a fixed handful, learnt and then checked on the same pairs
        train = pairs[: config.train_pairs]
        return train, train[: config.test_pairs]
    return parallel.split_pairs(pairs, config.test_pairs, seed=0)


def make_tokenizers(train, config):
    """Source and target vocabularies from the training pairs."""
    source = words.word_tokenizer(
        [s for s, _ in train], config.source_vocab, config.min_count, line_token=None, start_token=None
    )
    target = words.word_tokenizer(
        [t for _, t in train], config.target_vocab, config.min_count, line_token=None, start_token=START, end_token=END
    )
    return source, target


def encode_pairs(pairs, source_tokenizer, target_tokenizer):
    """`({"source", "target_in"}, target_out, weights)` arrays (teacher forcing)."""
    source = reversed_source(source_tokenizer, [s for s, _ in pairs]).numpy().astype(np.int32)
    target = target_tokenizer.encode([t for _, t in pairs])
    start = tf.fill([target.nrows(), 1], target_tokenizer.start_id)
    end = tf.fill([target.nrows(), 1], target_tokenizer.end_id)
    target_in = tf.concat([start, target], axis=1).to_tensor(0).numpy()
    target_out = tf.concat([target, end], axis=1).to_tensor(0).numpy()
    return {"source": source, "target_in": target_in}, target_out, (target_out != 0).astype(np.float32)


def dataset(arrays, batch_size, seed=None, repeat=False):
    ds = tf.data.Dataset.from_tensor_slices(arrays)
    if seed is not None:
        ds = ds.shuffle(len(arrays[1]), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    return ds.batch(batch_size, drop_remainder=repeat).prefetch(tf.data.AUTOTUNE)


def reference_text(tokenizer, sentences):
    """Targets in the tokeniser's own form (lowercased, punctuation split), what BLEU compares against."""
    return [" ".join(w.decode() for w in row) for row in tokenizer.split(sentences).to_list()]


def bleu(model, pairs, source_tokenizer, target_tokenizer, config, batch_size=64):
    """Corpus BLEU (sacrebleu) of beam-search and greedy translations, and the
    share of sentences translated exactly, on `pairs`."""
    start, end = target_tokenizer.start_id, target_tokenizer.end_id

    @tf.function
    def translate(sources):
        source = reversed_source(source_tokenizer, sources)
        beams, _ = model.beam_search(source, start, end, config.beam_size, config.max_decode_length)
        greedy, _ = model.greedy(source, start, config.max_decode_length)
        return target_tokenizer.decode(beams[:, 0], stop_id=end), target_tokenizer.decode(greedy, stop_id=end)

    beam_out, greedy_out = [], []
    for i in range(0, len(pairs), batch_size):
        b, g = translate(tf.constant([s for s, _ in pairs[i : i + batch_size]]))
        beam_out += [t.decode() for t in b.numpy()]
        greedy_out += [t.decode() for t in g.numpy()]
    references = reference_text(target_tokenizer, [t for _, t in pairs])
    return {
        "bleu_beam": sacrebleu.corpus_bleu(beam_out, [references]).score,
        "bleu_greedy": sacrebleu.corpus_bleu(greedy_out, [references]).score,
        "exact_match_beam": float(np.mean([h == r for h, r in zip(beam_out, references)])),
        "examples": [
            {"source": s, "reference": r, "beam": h} for (s, _), r, h in list(zip(pairs, references, beam_out))[:5]
        ],
    }


def translation_signatures(model, source_tokenizer, target_tokenizer, beam_size, max_length):
    """`translate` (also `serving_default`): `source` strings -> `translation`
    (the best), `translations` `[batch, beam]` (the n-best, best first) and
    their `log_probs` (natural log, under the model)."""

    def translate(source):
        tokens, log_probs = model.beam_search(
            reversed_source(source_tokenizer, source),
            target_tokenizer.start_id,
            target_tokenizer.end_id,
            beam_size,
            max_length,
        )
        batch = tf.shape(tokens)[0]
        flat = tf.reshape(tokens, [batch * beam_size, -1])  # the search stops early when every beam has ended
        texts = tf.reshape(target_tokenizer.decode(flat, stop_id=target_tokenizer.end_id), [batch, beam_size])
        return {"translation": texts[:, 0], "translations": texts, "log_probs": log_probs}

    signature = Signature(fn=translate, inputs={"source": tf.TensorSpec([None], tf.string)})
    return {"serving_default": signature, "translate": signature}


def main(argv=None):
    flags = harness.parse_flags(__doc__.split("\n\n")[0], CONFIGS, add_job_flags, argv)
    run = harness.start(flags, "translate")
    config = run.config
    with harness.exit_on_missing_data():
        train, test = load_pairs(config, flags.tfds_dir)
    source_tokenizer, target_tokenizer = make_tokenizers(train, config)
    train_arrays = encode_pairs(train, source_tokenizer, target_tokenizer)
    test_arrays = encode_pairs(test, source_tokenizer, target_tokenizer)
    print(
        f"{len(train)} training and {len(test)} held-out pairs; vocabularies "
        f"{source_tokenizer.vocab_size} (source), {target_tokenizer.vocab_size} (target)"
    )
    result = run.fit(
        build_model=lambda: Seq2SeqTranslator(
            source_tokenizer.vocab_size,
            target_tokenizer.vocab_size,
            units=config.units,
            num_layers=config.num_layers,
            embedding_dim=config.embedding_dim or None,
            dropout=config.dropout,
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=lambda: [],
        weighted_metrics=lambda: [Perplexity()],  # over real tokens, not padding
        train_data=lambda batch, seed, start: dataset(train_arrays, batch, seed=seed, repeat=True).skip(start),
        eval_data=lambda batch: dataset(test_arrays, batch),
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
    harness.run_main(main)
