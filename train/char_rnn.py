"""Character-level language model on raw Wikipedia XML (Graves 2013, section 3.2).

Graves trains a deep LSTM to predict the next byte of the Hutter Prize data
(enwik8, raw Wikipedia XML) and reports bits per character on the held-out last
4M bytes: 1.67 static. Offline we train on the Wikipedia XML excerpt that the
gensim wheel ships (same kind of text, about 3 MB), holding out its last 5%.
The export has `sample` (prime text -> continuation, with temperature, bias and
seed) and `score` (text -> log2 probability) signatures on plain strings.

    python -m train.char_rnn --config small
    python -m train.char_rnn --config paper --data_path /data/enwik8
"""

import dataclasses
import os

from keras_l11.language import text
from keras_l11.language.task import LanguageModelConfig, train_language_model
from keras_l11.layers.tokenizers import ByteTokenizer
from keras_l11.training import harness


@dataclasses.dataclass(frozen=True)
class CharRNNConfig(LanguageModelConfig):
    # "wikipedia": gensim's excerpt, last `test_fraction` held out;
    # "enwik8": a user-supplied enwik8 file, split 96M / 4M as in the paper.
    data: str = "wikipedia"
    test_fraction: float = 0.05


CONFIGS = {
    "smoke": CharRNNConfig(
        batch_size=32, steps=150, steps_per_epoch=50, learning_rate=1e-2, units=64, num_layers=1, sequence_length=50
    ),
    # About 7 minutes on a 2-core CPU (125 ms per step).
    "small": CharRNNConfig(
        batch_size=32, steps=3000, steps_per_epoch=250, learning_rate=3e-3, clip_norm=1.0, units=128, num_layers=2
    ),
    # The paper: 7 skip-connected layers of 700 peephole LSTM cells (21.3M weights), SGD with learning rate 1e-4
    # and momentum 0.9 on 100-byte sequences, derivatives clipped to [-1, 1] (here: the global gradient norm).
    "paper": CharRNNConfig(
        batch_size=32,
        steps=600_000,
        steps_per_epoch=5000,
        learning_rate=1e-4,
        optimizer="sgd",
        clip_norm=1.0,
        units=700,
        num_layers=7,
        cell="peephole",
        sequence_length=100,
        eval_streams=64,
        data="enwik8",
    ),
}


def add_job_flags(parser):
    g = parser.add_argument_group("char_rnn")
    g.add_argument("--data_path", default=None, help="the enwik8 file (for --config paper or data=enwik8)")


def load_text(config, data_path):
    """`(train, test)` bytes."""
    if config.data == "enwik8":
        if not data_path or not os.path.exists(data_path):
            raise FileNotFoundError(
                "data=enwik8 needs --data_path pointing at the enwik8 file "
                "(http://mattmahoney.net/dc/enwik8.zip, unzipped); offline, use --config small"
            )
        return text.split_bytes(text.read_bytes(data_path), train_bytes=text.ENWIK8_TRAIN_BYTES)
    if config.data == "wikipedia":
        return text.split_bytes(text.read_bytes(text.wikipedia_sample_path()), test_fraction=config.test_fraction)
    raise ValueError(f"data must be 'wikipedia' or 'enwik8', got {config.data!r}")


def main(argv=None):
    flags = harness.parse_flags(__doc__.split("\n\n")[0], CONFIGS, add_job_flags, argv)
    with harness.exit_on_missing_data():
        train, test = load_text(flags.train_config, flags.data_path)
    run = harness.start(flags, "char_rnn")
    train_language_model(run, ByteTokenizer(), text.as_ids(train), text.as_ids(test), "char_rnn", "character")
    run.write_summary()
    return run.summary


if __name__ == "__main__":
    harness.run_main(main)
