"""Writes the handwriting page's styles: priming strokes of a few writers.

Each style is a short line written by one of the offline data's synthetic
writers (`keras_l11.handwriting.data`: Hershey cursive fonts with a slant,
size, spacing and tremor of their own), as pen offsets `(dx, dy,
end_of_stroke)` in the data's units, with its text. The page sends them to
the synthesis model's `sample_primed` signature, which reads them and writes
on in that style (Graves 2013, section 5.5).

    python -m keras_l11.handwriting.web_styles            # rewrites keras_l11/web/pages/styles.json
"""

import argparse
import json
import os

import numpy as np

from keras_l11 import command_line
from keras_l11.handwriting.data import synthesize, writers
from keras_l11.web.static import DEFAULT_ROOT

STYLE_TEXTS = ("the quick fox", "a small word", "over the river")


def styles(count=3, seed=0):
    rng = np.random.default_rng(seed)
    result = []
    for k, (writer, text) in enumerate(zip(writers(count, seed), STYLE_TEXTS)):
        offsets = synthesize(text, writer, rng)
        result.append(
            {
                "name": f"writer {k + 1} ({writer.font}, slant {writer.slant:+.2f})",
                "text": text,
                "strokes": np.round(offsets, 3).tolist(),
            }
        )
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog=f"python -m {__spec__.name}", description=__doc__, formatter_class=command_line.HelpFormatter
    )
    parser.add_argument("--out", default=os.path.join(DEFAULT_ROOT, "styles.json"))
    args = parser.parse_args(argv)
    with open(args.out, "w") as f:
        json.dump({"styles": styles()}, f, separators=(",", ":"))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
