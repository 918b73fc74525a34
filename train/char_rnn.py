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

from keras_l11.language.configs import CHAR_RNN_CONFIGS
from keras_l11.training import cli


def add_job_flags(parser):
    g = parser.add_argument_group("char_rnn")
    g.add_argument("--data_path", default=None, help="the enwik8 file (for --config paper or data=enwik8)")


def main(argv=None):
    flags = cli.parse_flags(__spec__.name, __doc__, CHAR_RNN_CONFIGS, add_job_flags, argv)
    from keras_l11.language import text
    from keras_l11.language.task import load_character_text, train_language_model
    from keras_l11.layers.tokenizers import ByteTokenizer
    from keras_l11.training import harness

    with harness.exit_on_missing_data():
        train, test = load_character_text(flags.train_config, flags.data_path)
    run = harness.start(flags, "char_rnn")
    train_language_model(run, ByteTokenizer(), text.as_ids(train), text.as_ids(test), "char_rnn", "character")
    run.write_summary()
    return run.summary


if __name__ == "__main__":
    cli.run_main(main)
