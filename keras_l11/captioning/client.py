"""The images of a gallery that best match a sentence typed by the user, from
an exported image-sentence embedding (`python -m train.retrieval`): the
gallery's images and the sentence are embedded with the export's
`embed_image` and `embed_text` signatures (a SavedModel folder, or a running
TF Serving / `python -m serving` over REST or gRPC) and ranked by their dot
product.

    python -m keras_l11.captioning.client --server 127.0.0.1:8501 --gallery runs/retrieval/small/gallery \\
        "a red circle above a blue square"
"""

import argparse
import os
import sys

import numpy as np

from keras_l11 import command_line
from keras_l11.serving.sources import add_source_flags, call_signature

IMAGE_TYPES = (".png", ".jpg", ".jpeg", ".gif", ".bmp")


def gallery_files(folder):
    """The image files in `folder` (a folder the user names), sorted."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{folder} is not a folder of images")
    files = sorted(f for f in os.listdir(folder) if f.lower().endswith(IMAGE_TYPES))
    if not files:
        raise FileNotFoundError(f"{folder} holds no {', '.join(IMAGE_TYPES)} images")
    return [os.path.join(folder, f) for f in files]


def rank(sentences, paths, ask, batch=64):
    """`[(scores [images] sorted best first, paths in that order)]` per sentence."""
    vectors = []
    for i in range(0, len(paths), batch):
        encoded = []
        for path in paths[i : i + batch]:
            with open(path, "rb") as f:
                encoded.append(f.read())
        vectors.append(np.asarray(ask("embed_image", {"images": np.array(encoded, dtype=object)})["embeddings"]))
    images = np.concatenate(vectors)
    texts = np.asarray(
        ask("embed_text", {"sentences": np.array([s.encode() for s in sentences], dtype=object)})["embeddings"]
    )
    results = []
    for scores in texts @ images.T:
        order = np.argsort(-scores, kind="stable")
        results.append((scores[order], [paths[k] for k in order]))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog=f"python -m {__spec__.name}", description=__doc__, formatter_class=command_line.HelpFormatter
    )
    add_source_flags(parser, "retrieval")
    parser.add_argument("sentences", nargs="+", help="what to look for, one or more sentences")
    parser.add_argument("--gallery", required=True, help="a folder of images to search")
    parser.add_argument("--top", type=int, default=5)
    args = parser.parse_args(argv)
    try:
        if not all(s.strip() for s in args.sentences):
            raise ValueError("a sentence is empty")
        results = rank(
            args.sentences,
            gallery_files(args.gallery),
            lambda signature, inputs: call_signature(
                signature, inputs, args.saved_model, args.server, args.model, args.protocol
            ),
        )
    except Exception as err:  # a missing folder or model, a refused request: say what, no traceback
        sys.exit(f"error: {err}")
    for sentence, (scores, paths) in zip(args.sentences, results):
        print(sentence)
        for score, path in list(zip(scores, paths))[: args.top]:
            print(f"  {score:.3f}  {path}")
    return results


if __name__ == "__main__":
    main()
