"""Samples from a language model at several bias values, side by side.

Graves (2013) biases sampling towards the more probable: as the bias grows the
samples get easier to read but less diverse, until they all look the same.
This command asks the exported `sample` signature for one sample per bias, all
from the same prime and seed, and prints them in columns, like the lecture's
slide. It reads a SavedModel folder or asks a running server over REST or gRPC.

    python -m serving.samples --saved_model saved_models/char_rnn --bias 0 0.5 1 2
    python -m serving.samples --server 127.0.0.1:8501 --model char_rnn --prime "The " --bias 0 1 3
"""

import argparse
import functools
import os
import sys
import textwrap

import numpy as np


def latest_version(base_path):
    """`base_path` itself if it is a SavedModel, else its highest version folder."""
    if os.path.exists(os.path.join(base_path, "saved_model.pb")):
        return base_path
    versions = [int(d) for d in os.listdir(base_path) if d.isdigit()] if os.path.isdir(base_path) else []
    if not versions:
        raise FileNotFoundError(f"no SavedModel in {base_path} (train one with python -m train.char_rnn)")
    return os.path.join(base_path, str(max(versions)))


def sample_inputs(prime, length, temperature, biases, seed):
    n = len(biases)
    return {
        "prime": np.array([prime.encode("utf-8")] * n, dtype=object),
        "length": np.full([n], length, np.int32),
        "temperature": np.full([n], temperature, np.float32),
        "bias": np.asarray(biases, np.float32),
        "seed": np.full([n], seed, np.int64),
    }


@functools.lru_cache(maxsize=8)
def _load(path):
    import tensorflow as tf

    return tf.saved_model.load(path)


def saved_signature(saved_model, signature):
    """Signature `signature` of a SavedModel folder (or its latest version),
    loaded once per process however many calls a client makes."""
    loaded = _load(latest_version(saved_model))
    if signature not in loaded.signatures:
        raise ValueError(f"{saved_model} has no signature {signature!r} (it has {sorted(loaded.signatures)})")
    return loaded.signatures[signature]


def call_signature(signature, inputs, saved_model=None, server=None, model=None, protocol="rest"):
    """`{output: array}` of `signature` on `inputs`, from a SavedModel folder
    (`saved_model`) or from model `model` on a running `server` (host:port)."""
    if saved_model:
        import tensorflow as tf

        fn = saved_signature(saved_model, signature)
        return {k: v.numpy() for k, v in fn(**{k: tf.constant(v) for k, v in inputs.items()}).items()}
    from serving.client import Client

    with Client(server, protocol=protocol) as client:
        return client.predict(model, inputs, signature_name=signature)


def add_source_flags(parser, default_model):
    """`--saved_model` or `--server` (+ `--model`, `--protocol`): where `call_signature` asks."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--saved_model", help="a SavedModel folder, or a model folder with numbered versions")
    source.add_argument("--server", help="host:port of a TF Serving (or `python -m serving`) REST or gRPC port")
    parser.add_argument("--model", default=default_model, help="model name on the server")
    parser.add_argument("--protocol", choices=("rest", "grpc"), default="rest")


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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
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
