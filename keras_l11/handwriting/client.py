"""The lecture's handwriting figures from an exported handwriting network.

Asks the export's signatures (from a SavedModel folder or a running server,
REST or gRPC) and writes PNG and SVG files:

- `biases.png` (+ `bias_<b>.svg`): the same text and seed at several biases
  (Graves 2013, Fig. 16: more bias, neater and less varied writing);
- `primed.png` (+ `primed_<i>.svg`): lines by several synthetic writers, each
  continued by the network in the same style (Fig. 17), the prime in grey;
- `window.png` (synthesis only): where the soft window sat on the text while
  the network wrote it (Fig. 13).

    python -m keras_l11.handwriting.client --saved_model saved_models/handwriting_synthesis --text "write this"
    python -m keras_l11.handwriting.client --server 127.0.0.1:8501 --model handwriting_prediction --network prediction
"""

import argparse
import os
import sys

import numpy as np

from keras_l11 import command_line
from keras_l11.handwriting import data as hw
from keras_l11.handwriting import figures
from keras_l11.serving.sources import add_source_flags, call_signature


def sample_rows(args, biases, seed):
    rows = {"bias": np.asarray(biases, np.float32), "seed": np.full(len(biases), seed, np.int32)}
    if args.network == "synthesis":
        rows["text"] = np.array([args.text.encode()] * len(biases), dtype=object)
        rows["max_length"] = np.full(len(biases), args.max_length, np.int32)
    else:
        rows["length"] = np.full(len(biases), args.max_length, np.int32)
    return rows


def trimmed(outputs):
    """Each row's strokes cut to its length."""
    return [s[:n] for s, n in zip(outputs["strokes"], outputs["lengths"])]


def write_svg(path, offsets):
    with open(path, "w") as f:
        f.write(figures.strokes_svg(offsets))


def make_figures(args, ask):
    """`ask(signature, inputs) -> outputs`; returns the files written."""
    os.makedirs(args.out, exist_ok=True)
    files = []
    title = f'"{args.text}"' if args.network == "synthesis" else "unconditional"

    lines = trimmed(ask("sample", sample_rows(args, args.bias, args.seed)))
    for bias, line in zip(args.bias, lines):
        files.append(os.path.join(args.out, f"bias_{bias:g}.svg"))
        write_svg(files[-1], line)
    rows = [(f"bias {b:g}", line) for b, line in zip(args.bias, lines)]
    files.append(figures.plot_handwriting(rows, os.path.join(args.out, "biases.png"), f"{title}, seed {args.seed}"))

    rng = np.random.default_rng(args.seed)
    styles = hw.writers(args.writers, seed=args.seed)
    prime_texts = [hw.random_text(rng, 2, 2) for _ in styles]
    primes = [hw.synthesize(t, w, rng) for t, w in zip(prime_texts, styles)]
    longest = max(len(p) for p in primes)
    inputs = sample_rows(args, [args.primed_bias] * len(primes), args.seed)
    inputs["prime_strokes"] = np.stack([np.pad(p, ((0, longest - len(p)), (0, 0))) for p in primes])
    inputs["prime_lengths"] = np.array([len(p) for p in primes], np.int32)
    if args.network == "synthesis":
        inputs["prime_text"] = np.array([t.encode() for t in prime_texts], dtype=object)
    continuations = trimmed(ask("sample_primed", inputs))
    rows = []
    for i, (text, prime, more) in enumerate(zip(prime_texts, primes, continuations)):
        files.append(os.path.join(args.out, f"primed_{i}.svg"))
        write_svg(files[-1], np.concatenate([prime, more]))
        rows.append((f"writer {i}: primed with '{text}'", (prime, more)))
    files.append(figures.plot_handwriting(rows, os.path.join(args.out, "primed.png"), f"{title}, primed"))

    if args.network == "synthesis":
        line = lines[min(range(len(args.bias)), key=lambda i: abs(args.bias[i] - args.primed_bias))]
        phi = ask(
            "window",
            {
                "strokes": line[None].astype(np.float32),
                "lengths": np.array([len(line)], np.int32),
                "text": np.array([args.text.encode()], dtype=object),
            },
        )["phi"][0]
        files.append(figures.plot_window_weights(line, phi, args.text, os.path.join(args.out, "window.png")))
    return files


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog=f"python -m {__spec__.name}", description=__doc__, formatter_class=command_line.HelpFormatter
    )
    add_source_flags(parser, "handwriting_synthesis")
    parser.add_argument("--network", choices=("synthesis", "prediction"), default="synthesis")
    parser.add_argument("--text", default="the quick brown fox", help="what the synthesis network writes")
    parser.add_argument("--bias", type=float, nargs="+", default=[0.0, 0.5, 1.0, 2.0, 5.0])
    parser.add_argument("--primed_bias", type=float, default=1.0, help="bias of the primed continuations")
    parser.add_argument("--writers", type=int, default=3, help="synthetic writers whose lines prime the network")
    parser.add_argument("--max_length", type=int, default=800, help="points per line at most")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=os.path.join("figures", "handwriting"))
    args = parser.parse_args(argv)
    if args.network == "synthesis" and not args.text:
        parser.error("--text must not be empty")

    def ask(signature, inputs):
        return call_signature(signature, inputs, args.saved_model, args.server, args.model, args.protocol)

    try:
        files = make_figures(args, ask)
    except Exception as err:  # a missing model or a refused request: say what, no traceback
        sys.exit(f"error: {err}")
    print("\n".join(files))
    return files


if __name__ == "__main__":
    main()
