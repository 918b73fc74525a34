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

import dataclasses

from keras_l11.language import words
from keras_l11.language.task import LanguageModelConfig, train_language_model
from keras_l11.training import harness


@dataclasses.dataclass(frozen=True)
class WordRNNConfig(LanguageModelConfig):
    # "moby_dick" (offline) or "ptb" (--data_path: the folder with ptb.train.txt, ptb.valid.txt, ptb.test.txt).
    data: str = "moby_dick"
    vocab_size: int = 10_000  # words kept; the rest are <unk>
    min_count: int = 2
    test_fraction: float = 0.1


CONFIGS = {
    "smoke": WordRNNConfig(
        batch_size=32,
        steps=100,
        steps_per_epoch=50,
        learning_rate=1e-2,
        units=64,
        num_layers=1,
        sequence_length=20,
        vocab_size=2000,
    ),
    # About 6 minutes on a 2-core CPU.
    "small": WordRNNConfig(
        batch_size=32,
        steps=1500,
        steps_per_epoch=250,
        learning_rate=2e-3,
        clip_norm=5.0,
        units=256,
        num_layers=1,
        dropout=0.3,
        sequence_length=35,
    ),
    # Mikolov's RNN LM: one sigmoid hidden layer fed back as context, SGD (rate 0.1), PTB's 10k vocabulary.
    "paper": WordRNNConfig(
        batch_size=32,
        steps=50_000,
        steps_per_epoch=1000,
        learning_rate=0.1,
        optimizer="sgd",
        clip_norm=5.0,
        units=200,
        num_layers=1,
        cell="simple",
        skip_connections=False,
        sequence_length=20,
        data="ptb",
    ),
}


def add_job_flags(parser):
    g = parser.add_argument_group("word_rnn")
    g.add_argument("--data_path", default=None, help="folder with ptb.train.txt, ptb.valid.txt, ptb.test.txt")


def load_data(config, data_path):
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


def main(argv=None):
    flags = harness.parse_flags(__doc__.split("\n\n")[0], CONFIGS, add_job_flags, argv)
    run = harness.start(flags, "word_rnn")
    with harness.exit_on_missing_data():
        tokenizer, train, test = load_data(run.config, flags.data_path)
    print(f"vocabulary: {tokenizer.vocab_size} ids; {len(train)} training and {len(test)} held-out words")
    train_language_model(run, tokenizer, train, test, "word_rnn", "word")
    run.write_summary()
    return run.summary


if __name__ == "__main__":
    harness.run_main(main)
