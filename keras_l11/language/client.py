"""Samples from a language model at several bias values, side by side.

Graves (2013) biases sampling towards the more probable: as the bias grows the
samples get easier to read but less diverse, until they all look the same.
This command asks the exported `sample` signature for one sample per bias, all
from the same prime and seed, and prints them in columns, like the lecture's
slide. It reads a SavedModel folder or asks a running server over REST or gRPC.

    python -m keras_l11.language.client --saved_model saved_models/char_rnn --bias 0 0.5 1 2
    python -m keras_l11.language.client --server 127.0.0.1:8501 --model char_rnn --prime "The " --bias 0 1 3
"""

import argparse
import sys
import textwrap

import numpy as np

from keras_l11 import command_line
from keras_l11.serving.sources import add_source_flags, call_signature


def sample_inputs(prime, length, temperature, biases, seed):
    n = len(biases)
    return {
        "prime": np.array([prime.encode("utf-8")] * n, dtype=object),
        "length": np.full([n], length, np.int32),
        "temperature": np.full([n], temperature, np.float32),
        "bias": np.asarray(biases, np.float32),
        "seed": np.full([n], seed, np.int64),
    }


def draw(inputs, saved_model=None, server=None, model=None, protocol="rest"):
    """Text of each row of the `sample` signature's output."""
    text = call_signature("sample", inputs, saved_model, server, model, protocol)["text"]
    return [t.decode("utf-8", "replace") if isinstance(t, bytes) else str(t) for t in text]


def side_by_side(headers, texts, width):
    """Columns of `width` characters, one per text, wrapped and padded."""
    columns = []
    for text in texts:
        lines = []
        for paragraph in text.split("\n"):
            lines += textwrap.wrap(paragraph, width, drop_whitespace=False, replace_whitespace=False) or [""]
        columns.append(lines)
    height = max(len(c) for c in columns)
    rows = [" | ".join(h.ljust(width) for h in headers), "-+-".join("-" * width for _ in headers)]
    for i in range(height):
        rows.append(" | ".join((c[i] if i < len(c) else "").ljust(width) for c in columns))
    return "\n".join(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog=f"python -m {__spec__.name}", description=__doc__, formatter_class=command_line.HelpFormatter
    )
    add_source_flags(parser, "char_rnn")
    parser.add_argument("--prime", default="", help="text the samples continue")
    parser.add_argument("--bias", type=float, nargs="+", default=[0.0, 0.5, 1.0, 2.0, 10.0])
    parser.add_argument("--length", type=int, default=300, help="tokens per sample")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--width", type=int, default=32, help="column width in characters")
    args = parser.parse_args(argv)
    if args.length < 1:
        parser.error("--length must be at least 1")
    inputs = sample_inputs(args.prime, args.length, args.temperature, args.bias, args.seed)
    try:
        texts = draw(inputs, args.saved_model, args.server, args.model, args.protocol)
    except Exception as err:  # a missing model or a refused request: say what, no traceback
        sys.exit(f"error: {err}")
    print(side_by_side([f"bias {b:g}" for b in args.bias], [args.prime + t for t in texts], args.width))


if __name__ == "__main__":
    main()
