"""The language experiments as data: `CharRNNExperiment`, `WordRNNExperiment` and
`TranslateExperiment`, whose `smoke`, `small` and `paper` values are in
`CHAR_RNN_CONFIGS`, `WORD_RNN_CONFIGS` and `TRANSLATE_CONFIGS`. Each nests its
model's own arguments (`--override model.units=512`).

Models are imported inside the builders, so that reading a config (a job's
`--help`) does not load TensorFlow.
"""

import dataclasses

from keras_l11.training.config import TrainConfig


@dataclasses.dataclass(frozen=True)
class LanguageModelArchitecture:
    """`RecurrentLanguageModel`'s arguments beyond the vocabulary size
    (`embedding_dim` 0 means `units`)."""

    units: int = 256
    num_layers: int = 2
    cell: str = "lstm"
    embedding_dim: int = 0
    skip_connections: bool = True
    dropout: float = 0.0

    def build(self, vocab_size):
        from keras_l11.language.language_model import RecurrentLanguageModel

        return RecurrentLanguageModel(
            vocab_size, **{**dataclasses.asdict(self), "embedding_dim": self.embedding_dim or None}
        )


@dataclasses.dataclass(frozen=True)
class LanguageModelExperiment(TrainConfig):
    """What the character and word language-model jobs share.

    Attributes:
        model: the network's own arguments.
        sequence_length: tokens per training window (truncated BPTT length).
        eval_streams: parallel streams the held-out text is cut into; each is
            read front to back with the state carried between windows.
    """

    model: LanguageModelArchitecture = LanguageModelArchitecture()
    sequence_length: int = 100
    eval_streams: int = 16


@dataclasses.dataclass(frozen=True)
class CharRNNExperiment(LanguageModelExperiment):
    # "wikipedia": gensim's excerpt, last `test_fraction` held out;
    # "enwik8": a user-supplied enwik8 file, split 96M / 4M as in the paper.
    data: str = "wikipedia"
    test_fraction: float = 0.05


CHAR_RNN_CONFIGS = {
    "smoke": CharRNNExperiment(
        batch_size=32,
        steps=150,
        steps_per_epoch=50,
        learning_rate=1e-2,
        model=LanguageModelArchitecture(units=64, num_layers=1),
        sequence_length=50,
    ),
    # About 7 minutes on a 2-core CPU (125 ms per step).
    "small": CharRNNExperiment(
        batch_size=32,
        steps=3000,
        steps_per_epoch=250,
        learning_rate=3e-3,
        clip_norm=1.0,
        model=LanguageModelArchitecture(units=128, num_layers=2),
    ),
    # The paper (Graves 2013, section 3.2): 7 layers of 700 peephole LSTM cells with skip connections (the input
    # to every layer, every layer to the output), one-hot bytes in (here a 256-wide embedding of the 256 byte
    # values, as many weights), SGD with learning rate 1e-4 and momentum 0.9 on 100-byte sequences, derivatives
    # clipped to [-1, 1] (here: the global gradient norm). The paper states 21.3M weights; its architecture as
    # described has about 30.5M with its 205 byte values (ours: 31.9M with 256).
    "paper": CharRNNExperiment(
        batch_size=32,
        steps=600_000,
        steps_per_epoch=5000,
        learning_rate=1e-4,
        optimizer="sgd",
        clip_norm=1.0,
        model=LanguageModelArchitecture(units=700, num_layers=7, cell="peephole", embedding_dim=256),
        sequence_length=100,
        eval_streams=64,
        data="enwik8",
    ),
}


@dataclasses.dataclass(frozen=True)
class WordRNNExperiment(LanguageModelExperiment):
    # "moby_dick" (offline) or "ptb" (--data_path: the folder with ptb.train.txt, ptb.valid.txt, ptb.test.txt).
    data: str = "moby_dick"
    vocab_size: int = 10_000  # words kept; the rest are <unk>
    min_count: int = 2
    test_fraction: float = 0.1


WORD_RNN_CONFIGS = {
    "smoke": WordRNNExperiment(
        batch_size=32,
        steps=100,
        steps_per_epoch=50,
        learning_rate=1e-2,
        model=LanguageModelArchitecture(units=64, num_layers=1),
        sequence_length=20,
        vocab_size=2000,
    ),
    # About 6 minutes on a 2-core CPU.
    "small": WordRNNExperiment(
        batch_size=32,
        steps=1500,
        steps_per_epoch=250,
        learning_rate=2e-3,
        clip_norm=5.0,
        model=LanguageModelArchitecture(units=256, num_layers=1, dropout=0.3),
        sequence_length=35,
    ),
    # Mikolov's RNN LM: one sigmoid hidden layer fed back as context, SGD (rate 0.1), PTB's 10k vocabulary.
    "paper": WordRNNExperiment(
        batch_size=32,
        steps=50_000,
        steps_per_epoch=1000,
        learning_rate=0.1,
        optimizer="sgd",
        momentum=0.0,
        clip_norm=5.0,
        model=LanguageModelArchitecture(units=200, num_layers=1, cell="simple", skip_connections=False),
        sequence_length=20,
        data="ptb",
    ),
}


@dataclasses.dataclass(frozen=True)
class TranslatorArchitecture:
    """`Seq2SeqTranslator`'s arguments beyond the vocabularies (`embedding_dim` 0 means `units`)."""

    units: int = 256
    num_layers: int = 2
    embedding_dim: int = 0
    dropout: float = 0.0

    def build(self, source_vocab_size, target_vocab_size):
        from keras_l11.language.seq2seq import Seq2SeqTranslator

        kwargs = {**dataclasses.asdict(self), "embedding_dim": self.embedding_dim or None}
        return Seq2SeqTranslator(source_vocab_size, target_vocab_size, **kwargs)


@dataclasses.dataclass(frozen=True)
class TranslateExperiment(TrainConfig):
    model: TranslatorArchitecture = TranslatorArchitecture()
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


TRANSLATE_CONFIGS = {
    # A handful of pairs, learnt by heart (tests check every one comes back exactly).
    "smoke": TranslateExperiment(
        batch_size=8,
        steps=300,
        steps_per_epoch=100,
        learning_rate=1e-2,
        model=TranslatorArchitecture(units=64, num_layers=1),
        max_words=8,
        train_pairs=8,
        test_pairs=8,
        min_count=1,
        beam_size=2,
        max_decode_length=12,
    ),
    # About 21 minutes on a 2-core CPU (0.4 s per step).
    "small": TranslateExperiment(
        batch_size=64,
        steps=3000,
        steps_per_epoch=250,
        learning_rate=2e-3,
        clip_norm=5.0,
        model=TranslatorArchitecture(dropout=0.2),
    ),
    # The paper (Sutskever et al. 2014, section 3.4): 4 layers of 1000 cells, 1000-dim embeddings, SGD without
    # momentum at 0.7 for 5 epochs, then halved every half epoch, 7.5 epochs in all, batches of 128, gradient
    # norm clipped at 5, vocabularies of 160k / 80k words, beam 12. An epoch of its 12M pairs is 93,750 batches.
    "paper": TranslateExperiment(
        batch_size=128,
        steps=703_125,
        steps_per_epoch=2000,
        learning_rate=0.7,
        learning_rate_steps=tuple((int(93_750 * (5 + k / 2)), 0.7 / 2 ** (k + 1)) for k in range(5)),
        optimizer="sgd",
        momentum=0.0,
        clip_norm=5.0,
        model=TranslatorArchitecture(units=1000, num_layers=4),
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
