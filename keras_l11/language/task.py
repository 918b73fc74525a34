"""What the language jobs share.

- Language models (`train/char_rnn.py`: bytes of Wikipedia XML or enwik8;
  `train/word_rnn.py`: words of Moby-Dick or Penn Treebank): their data, training
  on windows of a token stream, held-out evaluation that carries the state through
  the text, the unigram baseline, and the export.
- Translation (`train/translate.py`): sentence pairs, vocabularies, teacher-forced
  arrays, and BLEU (sacrebleu) of beam-search and greedy translations.
"""

import math
import os

import keras
import numpy as np
import sacrebleu
import tensorflow as tf

from keras_l11.language import parallel, text, words
from keras_l11.language.export import language_model_signatures
from keras_l11.language.metrics import BitsPerCharacter, Perplexity
from keras_l11.language.seq2seq import reversed_source
from keras_l11.layers.tokenizers import END, START
from keras_l11.training.harness import format_table


def unigram_bits(train_ids, test_ids, vocab_size):
    """Bits per token of the test text under the training text's unigram
    distribution (add-one smoothed): what a model that ignores context gets."""
    counts = np.bincount(train_ids, minlength=vocab_size).astype(np.float64) + 1.0
    log2p = np.log2(counts / counts.sum())
    return float(-log2p[test_ids].mean())


def stream_bits(model, ids, num_streams, length):
    """Mean bits per predicted token over `ids`, read as `num_streams`
    contiguous streams with the state carried from window to window (the way a
    language model reads a held-out text; a fresh state per window would
    handicap every window's first tokens)."""
    inputs, targets = text.streams(ids, num_streams, length)

    @tf.function
    def window(x, y, states):
        logits, states = model.run(x, states)
        nats = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
        return tf.reduce_sum(nats), states

    states = model.initial_state(num_streams)
    total = 0.0
    for x, y in zip(inputs, targets):
        nats, states = window(tf.constant(x), tf.constant(y), states)
        total += float(nats)
    return total / targets.size / math.log(2.0)


def train_language_model(run, tokenizer, train_ids, test_ids, model_name, unit):
    """Fits, evaluates and exports a language model on token-id arrays.

    Args:
        run: the harness `Run`.
        tokenizer: a `ByteTokenizer` or `WordTokenizer` (exported with the model).
        train_ids, test_ids: int32 token ids of the training and held-out text.
        model_name: export name.
        unit: "character" (reports bits per character) or "word" (perplexity).

    Returns:
        The trained model.
    """
    config = run.config
    metric = BitsPerCharacter if unit == "character" else Perplexity
    result = run.fit(
        build_model=lambda: config.model.build(tokenizer.vocab_size),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=lambda: [metric()],
        # A resumed run skips the batches it has trained on: the same stream as an uninterrupted run.
        train_data=lambda batch, seed, start: text.windows(
            train_ids, config.sequence_length, batch, shuffle_seed=seed, repeat=True
        ).skip(start),
        eval_data=lambda batch: text.windows(test_ids, config.sequence_length, batch),
    )
    model = run.local_copy(result.model)
    streams = max(1, min(config.eval_streams, (len(test_ids) - 1) // config.sequence_length))
    bits = stream_bits(model, test_ids, streams, config.sequence_length)
    baseline = unigram_bits(train_ids, test_ids, tokenizer.vocab_size)
    evaluation = {
        f"bits_per_{unit}": bits,
        "perplexity": 2.0**bits,
        f"unigram_bits_per_{unit}": baseline,
        "unigram_perplexity": 2.0**baseline,
        "train_tokens": int(len(train_ids)),
        "test_tokens": int(len(test_ids)),
    }
    run.summary["evaluation"] = evaluation
    print(
        format_table(
            ["held-out text", f"bits/{unit}", "perplexity"],
            [["model (state carried)", bits, 2.0**bits], ["unigram baseline", baseline, 2.0**baseline]],
        )
    )
    run.export(result.model, model_name, lambda local: language_model_signatures(local, tokenizer), [tokenizer])
    return model


def load_character_text(config, data_path):
    """`(train, test)` bytes."""
    if config.data == "enwik8":
        if not data_path or not os.path.exists(data_path):
            raise FileNotFoundError(
                "data=enwik8 needs --data_path pointing at the enwik8 file "
                "(http://mattmahoney.net/dc/enwik8.zip, unzipped); offline, use --config small"
            )
        return text.split_bytes(text.read_bytes(data_path), test_fraction=text.ENWIK8_TEST_FRACTION)
    if config.data == "wikipedia":
        return text.split_bytes(text.read_bytes(text.wikipedia_sample_path()), test_fraction=config.test_fraction)
    raise ValueError(f"data must be 'wikipedia' or 'enwik8', got {config.data!r}")


def load_word_text(config, data_path):
    """`(tokenizer, train ids, test ids)`."""
    if config.data == "ptb":
        if not data_path:
            raise FileNotFoundError("data=ptb needs --data_path, the folder with the ptb.*.txt files")
        ptb = words.read_ptb(data_path)
        texts = ptb["train"], ptb["test"]
        # PTB is tokenised and lowercased already, with its own <unk>.
        tokenizer = words.word_tokenizer(texts[0], config.vocab_size, 1, lowercase=False, split_punctuation=False)
    elif config.data == "moby_dick":
        texts = words.split_paragraphs(words.moby_dick_paragraphs(), config.test_fraction)
        tokenizer = words.word_tokenizer(texts[0], config.vocab_size, config.min_count)
    else:
        raise ValueError(f"data must be 'moby_dick' or 'ptb', got {config.data!r}")
    return tokenizer, words.token_ids(tokenizer, texts[0]), words.token_ids(tokenizer, texts[1])


def load_translation_pairs(config, tfds_dir):
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


def translation_dataset(arrays, batch_size, seed=None, repeat=False):
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
