"""Word-level recurrent language model (Mikolov et al. 2010, "Recurrent neural
network based language model").

Mikolov's RNN LM reads one word at a time and predicts the next through a
softmax over the vocabulary; words outside the vocabulary share one `<unk>`
token. Quality is perplexity on held-out text. The `paper` config is his Elman
network on Penn Treebank (user-supplied `ptb.*.txt` files), where RNN LMs
reach about 124.7 test perplexity against 141.2 for a Kneser-Ney 5-gram
(Mikolov et al. 2011); offline the job reads Moby-Dick (npm; docs: data) and holds
out its last 10% of paragraphs. The export has `sample` and `score` signatures.

    python -m train.word_rnn --config small
    python -m train.word_rnn --config paper --data_path /data/ptb
"""

from keras_l11.language.configs import WORD_RNN_CONFIGS
from keras_l11.training import cli


def add_job_flags(parser):
    g = parser.add_argument_group("word_rnn")
    g.add_argument("--data_path", default=None, help="folder with ptb.train.txt, ptb.valid.txt, ptb.test.txt")


def main(argv=None):
    flags = cli.parse_flags(__spec__.name, __doc__, WORD_RNN_CONFIGS, add_job_flags, argv)
    from keras_l11.language.task import load_word_text, train_language_model
    from keras_l11.training import harness

    run = harness.start(flags, "word_rnn")
    with harness.exit_on_missing_data():
        tokenizer, train, test = load_word_text(run.config, flags.data_path)
    print(f"vocabulary: {tokenizer.vocab_size} ids; {len(train)} training and {len(test)} held-out words")
    train_language_model(run, tokenizer, train, test, "word_rnn", "word")
    run.write_summary()
    return run.summary


if __name__ == "__main__":
    cli.run_main(main)
