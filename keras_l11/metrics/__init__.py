"""Metrics in the papers' own units."""

from keras_l11.metrics.language import BitsPerCharacter, Perplexity
from keras_l11.metrics.sequence_bits import (
    BitErrorsPerSequence,
    BitsPerSequence,
    SequenceBinaryCrossentropy,
    bit_errors_per_sequence,
    bits_per_sequence,
    nats_per_sequence,
)

__all__ = [
    "BitErrorsPerSequence",
    "BitsPerCharacter",
    "Perplexity",
    "BitsPerSequence",
    "SequenceBinaryCrossentropy",
    "bit_errors_per_sequence",
    "bits_per_sequence",
    "nats_per_sequence",
]
