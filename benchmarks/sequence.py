"""Sequence models: held-out quality of the `small` configs beside the papers',
training throughput of our char LSTM against the keras-io char-LSTM example,
and in-graph sampling against a Python loop calling the model per character.

    python -m benchmarks.sequence             # trains the three small configs (about 25 min)
    python -m benchmarks.sequence --reuse     # reads runs/benchmark/*/summary.json if present
    python -m benchmarks.sequence --skip_quality

The keras-io baseline is the model and data pipeline of "Character-level text
generation with LSTM" (keras.io/examples/generative/lstm_character_level_text_generation):
one-hot windows of 40 characters (step 3) of the text's own alphabet, LSTM(128),
a softmax over the alphabet that predicts the one character after each window,
RMSprop, batch 128. Ours is the same size (one LSTM layer of 128 cells, batch 128,
windows of 40) but predicts every character of each window. The table gives three
rates: LSTM input characters/s (raw recurrent work; ours also computes 40 softmaxes
per window where keras-io computes one), trained characters/s (targets the model
learns from: the training throughput the target is about) and text characters/s (how
fast an epoch goes through the corpus: keras-io's windows overlap, advancing by 3).
"""

import tempfile
import time

import numpy as np

from benchmarks.common import best_steps_per_second, parser_with_run_flags, run_small, write_report
from keras_l11.training.harness import format_table

# -- quality -----------------------------------------------------------------

# job, held-out data, our figure from its summary, the paper's figure (other data, far
# larger models: context, not targets).
SMALL_RUNS = [
    (
        "char_rnn",
        "gensim Wikipedia XML, last 5%",
        lambda ev, c: f"{ev['bits_per_character']:.3f} BPC (unigram {ev['unigram_bits_per_character']:.2f})",
        "1.67 BPC static, enwik8, 7x700 LSTM (Graves 2013)",
    ),
    (
        "word_rnn",
        "Moby-Dick, last 10% of paragraphs",
        lambda ev, c: f"{ev['perplexity']:.1f} perplexity (unigram {ev['unigram_perplexity']:.0f})",
        "124.7 test perplexity, PTB, RNN LM (Mikolov et al. 2011; KN5: 141.2)",
    ),
    (
        "translate",
        "Bible es->en, 500 held-out verses",
        lambda ev, c: f"{ev['bleu_beam']:.2f} BLEU beam {c['beam_size']} (greedy {ev['bleu_greedy']:.2f})",
        "34.81 BLEU, WMT'14 En-Fr, 5 reversed 4x1000 LSTMs, beam 12 (Sutskever 2014)",
    ),
]


def quality(runs_dir, reuse):
    rows = []
    for job, data, ours, paper in SMALL_RUNS:
        summary = run_small(job, runs_dir, reuse)
        rows.append([job, data, ours(summary["evaluation"], summary["train_config"]), summary["train_seconds"], paper])
    return format_table(["model (small)", "held-out data", "ours", "train s", "paper"], rows)


# -- training throughput -----------------------------------------------------


def keras_io_data(text, maxlen=40, step=3):
    """The keras-io example's arrays: one-hot windows and the next character."""
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    starts = range(0, len(text) - maxlen, step)
    x = np.zeros((len(starts), maxlen, len(chars)), dtype="bool")
    y = np.zeros((len(starts), len(chars)), dtype="bool")
    for i, s in enumerate(starts):
        for t, c in enumerate(text[s : s + maxlen]):
            x[i, t, index[c]] = 1
        y[i, index[text[s + maxlen]]] = 1
    return x, y


def throughput(steps, rounds=3, batch=128, maxlen=40, step=3):
    import keras
    import tensorflow as tf

    from keras_l11.language import text as text_data
    from keras_l11.language.language_model import RecurrentLanguageModel

    raw = text_data.read_bytes(text_data.wikipedia_sample_path())[:600_000]
    # keras-io reads text and lowercases it; both models see the same characters.
    text = raw.decode("utf-8", "replace").lower()
    x, y = keras_io_data(text, maxlen, step)
    baseline = keras.Sequential(
        [keras.Input((maxlen, x.shape[-1])), keras.layers.LSTM(128), keras.layers.Dense(x.shape[-1], "softmax")]
    )
    baseline.compile(keras.optimizers.RMSprop(0.01), "categorical_crossentropy")
    baseline_data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(4096, seed=0).repeat().batch(batch)

    ours = RecurrentLanguageModel(256, units=128, num_layers=1)
    ours.compile(keras.optimizers.Adam(2e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    ours_data = text_data.windows(text.encode("utf-8"), maxlen, batch, shuffle_seed=0, repeat=True)
    theirs, ours_rate = best_steps_per_second([(baseline, baseline_data), (ours, ours_data)], steps, rounds)

    # Per step: both run the LSTM over batch x 40 characters. keras-io trains on one target per window
    # and its windows advance by 3 characters; ours trains on every character and tiles the text.
    def row(name, rate, targets, advance):
        return [
            name,
            f"{batch * maxlen * rate:,.0f}",
            f"{batch * targets * rate:,.0f}",
            f"{batch * advance * rate:,.0f}",
        ]

    rows = [row("keras-io example", theirs, 1, step), row("keras_l11 (ours)", ours_rate, maxlen, maxlen)]
    rows.append(
        ["ours / keras-io", ours_rate / theirs, ours_rate * maxlen / theirs, ours_rate * maxlen / (theirs * step)]
    )
    header = ["LSTM(128), batch 128, windows of 40", "LSTM input chars/s", "trained chars/s", "text chars/s"]
    return format_table(header, rows)


# -- sampling speed ----------------------------------------------------------


def sampling(length, units=128, num_layers=2):
    """Characters/s of the exported `sample` signature and of Python loops, on
    the small config's model size (speed does not depend on the weights)."""
    import tensorflow as tf

    from keras_l11.language.client import sample_inputs
    from keras_l11.language.export import language_model_signatures
    from keras_l11.language.language_model import RecurrentLanguageModel
    from keras_l11.layers.tokenizers import ByteTokenizer
    from keras_l11.training.export import export_saved_model

    model = RecurrentLanguageModel(256, units=units, num_layers=num_layers)
    model(tf.zeros([1, 1], tf.int32))
    tokenizer = ByteTokenizer()
    with tempfile.TemporaryDirectory() as tmp:
        path = export_saved_model(model, tmp, language_model_signatures(model, tokenizer), [tokenizer])
        signature = tf.saved_model.load(path).signatures["sample"]
        inputs = {k: tf.constant(v) for k, v in sample_inputs("<page>", length, 1.0, [0.0], 1).items()}
        signature(**inputs)  # warm-up
        started = time.perf_counter()
        signature(**inputs)
        graph_rate = length / (time.perf_counter() - started)

    window = python_loop_rate(lambda ids, states: (model(ids)[:, -1], states), length, model, window=40)
    stepped = python_loop_rate(tf.function(model.step), length, model)
    rows = [
        ["exported `sample` signature (one tf.while_loop)", f"{graph_rate:,.0f}", 1.0],
        ["Python loop: model(last 40 chars) per char (keras-io)", f"{window:,.1f}", graph_rate / window],
        ["Python loop: tf.function step with state per char", f"{stepped:,.0f}", graph_rate / stepped],
    ]
    return format_table([f"sampling {length} characters, batch 1", "chars/s", "signature speed-up"], rows)


def python_loop_rate(call, length, model, window=0):
    """Characters/s of sampling in a Python loop that calls the model once per
    character: on the last `window` characters (keras-io's way) or, with
    `window=0`, on the last character with the state carried."""
    import tensorflow as tf

    rng = np.random.default_rng(1)
    history, states = [10], model.initial_state(1)

    def once():
        nonlocal states
        ids = tf.constant([history[-window:]]) if window else tf.constant([history[-1]])
        logits, states = call(ids, states)
        p = tf.nn.softmax(tf.reshape(logits, [-1])).numpy().astype(np.float64)
        history.append(int(rng.choice(len(p), p=p / p.sum())))

    for _ in range(3):
        once()  # warm-up
    started = time.perf_counter()
    for _ in range(length):
        once()
    return length / (time.perf_counter() - started)


def main(argv=None):
    parser = parser_with_run_flags(__doc__.split("\n\n")[0])
    parser.add_argument("--throughput_steps", type=int, default=60, help="steps per timed round (best of 3)")
    parser.add_argument("--sample_length", type=int, default=500)
    args = parser.parse_args(argv)

    sections = []
    if not args.skip_quality:
        title = "Held-out quality of the small configs (the papers: other data, far larger models)"
        sections.append((title, quality(args.runs_dir, args.reuse)))
    title = "Training throughput, same data, same model size (target: ratio >= 1.0)"
    sections.append((title, throughput(args.throughput_steps)))
    sections.append(("Sampling speed (target: >= 20x a Python loop)", sampling(args.sample_length)))
    write_report("sequence", sections)


if __name__ == "__main__":
    main()
