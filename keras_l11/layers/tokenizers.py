"""In-graph tokenisers: strings -> token ids -> strings inside a SavedModel.

Exported `sample`, `score` and `translate` signatures take and return plain
strings, so tokenisation is part of the graph, and the training data goes
through the very same ops (no second, Python-side tokeniser to drift from it).

Both tokenisers reserve id 0 for padding; `encode` returns a `tf.RaggedTensor`
`[batch, (tokens)]` of int32 ids, `decode` joins `[batch, length]` ids back into
one string per row (ids `[batch, length]`, or ragged to give each row its own
length); the word tokeniser drops padding and stops at `stop_id` if given.
"""

import keras
import tensorflow as tf

BYTE_VOCAB_SIZE = 256


def encode_bytes(text):
    """In-graph tokenisation: string tensor -> int32 byte ids (what a `score` or
    `sample` signature does with its input). A scalar string gives `[length]`
    ids; a batch `[batch]` gives a ragged `[batch, (length)]`."""
    text = tf.convert_to_tensor(text, tf.string)
    if text.shape.rank == 0:
        return tf.cast(tf.io.decode_raw(text, tf.uint8), tf.int32)
    pieces = tf.strings.bytes_split(text)
    return pieces.with_flat_values(tf.cast(tf.io.decode_raw(pieces.flat_values, tf.uint8)[:, 0], tf.int32))


def decode_bytes(ids):
    """int byte ids `[..., length]` -> string tensor `[...]` (the inverse of `encode_bytes`)."""
    table = tf.constant([bytes([i]) for i in range(BYTE_VOCAB_SIZE)])
    return tf.strings.reduce_join(tf.gather(table, tf.cast(ids, tf.int32)), axis=-1)


PAD = "<pad>"
UNK = "<unk>"
EOS = "<eos>"
START = "<s>"
END = "</s>"

# Punctuation becomes its own token; letters (any script), digits, apostrophes
# and the angle brackets of tokens such as <unk> stay inside words.
_PUNCTUATION = r"([^\pL\pN\s'<>])"


@keras.saving.register_keras_serializable(package="keras_l11")
class ByteTokenizer(keras.layers.Layer):
    """Raw bytes, the vocabulary of Graves (2013): id = byte value (0-255).

    Rows start with `start_id` (a newline, as a Wikipedia dump line would), so
    the first real byte is predicted from a defined context. Decoded samples
    are repaired to valid UTF-8 (U+FFFD for broken sequences), because a JSON
    response must carry text.
    """

    vocab_size = 256
    pad_id = 0

    def __init__(self, start_byte=10, **kwargs):
        super().__init__(**kwargs)
        self.start_byte = int(start_byte)
        self.start_id = self.start_byte
        self.end_id = None
        self.built = True  # no weights

    def encode(self, text):
        return encode_bytes(text)

    def decode(self, ids, stop_id=None):
        return tf.strings.unicode_transcode(decode_bytes(ids), "UTF-8", "UTF-8", errors="replace")

    def get_config(self):
        return {**super().get_config(), "start_byte": self.start_byte}


def split_words(text, lowercase=True, split_punctuation=True, line_token=EOS):
    """Strings `[batch]` -> ragged word strings: optionally lowercased (Unicode),
    punctuation split off, and `line_token` at every line end (PTB marks
    sentence ends with `<eos>`, one sentence per line)."""
    text = tf.convert_to_tensor(text, tf.string)
    if lowercase:
        text = tf.strings.lower(text, encoding="utf-8")
    if split_punctuation:
        text = tf.strings.regex_replace(text, _PUNCTUATION, r" \1 ")
    if line_token:
        text = tf.strings.regex_replace(text, r"\n", f" {line_token} ")
    return tf.strings.split(text)


@keras.saving.register_keras_serializable(package="keras_l11")
class WordTokenizer(keras.layers.Layer):
    """Words with a fixed vocabulary: id 0 is padding, 1 is `<unk>` (any word
    outside the vocabulary, Mikolov's class for rare words), then the vocabulary.

    Args:
        vocabulary: the known words, most frequent first (no `<pad>`/`<unk>`).
        lowercase, split_punctuation, line_token: see `split_words`.
        start_token, end_token: tokens that open and close a sequence
            (`<eos>` for a language model, `<s>`/`</s>` for a translation's
            target, none for its source); they are added to the vocabulary if
            missing.
    """

    pad_id = 0
    unk_id = 1

    def __init__(
        self,
        vocabulary,
        lowercase=True,
        split_punctuation=True,
        line_token=EOS,
        start_token=EOS,
        end_token=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        words = [w for w in vocabulary if w not in (PAD, UNK)]
        for token in (start_token, end_token, line_token):
            if token and token not in words:
                words.append(token)
        self.vocabulary = words
        self.lowercase = lowercase
        self.split_punctuation = split_punctuation
        self.line_token = line_token
        self.start_token = start_token
        self.end_token = end_token
        self.lookup = keras.layers.StringLookup(
            vocabulary=words, mask_token=PAD, oov_token=UNK, num_oov_indices=1, output_mode="int"
        )
        self.inverse = keras.layers.StringLookup(
            vocabulary=words, mask_token=PAD, oov_token=UNK, num_oov_indices=1, invert=True
        )
        self.vocab_size = len(words) + 2
        self.start_id = words.index(start_token) + 2 if start_token else None
        self.end_id = words.index(end_token) + 2 if end_token else None
        self.built = True  # the lookup tables are not weights

    def split(self, text):
        return split_words(text, self.lowercase, self.split_punctuation, self.line_token)

    def encode(self, text):
        words = self.split(text)
        return words.with_flat_values(tf.cast(self.lookup(words.flat_values), tf.int32))

    def decode(self, ids, stop_id=None):
        """Ids -> text; the line token becomes a newline again."""
        if isinstance(ids, tf.RaggedTensor):
            ids = ids.to_tensor(self.pad_id)
        ids = tf.cast(ids, tf.int64)
        keep = ids != self.pad_id
        if stop_id is not None:
            ended = tf.cumsum(tf.cast(ids == stop_id, tf.int32), axis=-1) > 0
            keep = tf.logical_and(keep, tf.logical_not(ended))
        words = self.inverse(tf.ragged.boolean_mask(ids, keep))
        text = tf.strings.reduce_join(words, axis=-1, separator=" ")
        if self.line_token:
            text = tf.strings.regex_replace(text, f" ?{self.line_token} ?", "\n")
        return text

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary": list(self.vocabulary),
            "lowercase": self.lowercase,
            "split_punctuation": self.split_punctuation,
            "line_token": self.line_token,
            "start_token": self.start_token,
            "end_token": self.end_token,
        }
