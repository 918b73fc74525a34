"""Objects in image files, from an exported R-CNN: selective search on the
client, then the export's `detect` signature (or `detect_windows`, sliding
windows inside the graph, with `--windows`).

Prints one line per detection (image, class, confidence, x1 y1 x2 y2 in
pixels) and with `--out` draws them. Reads a SavedModel folder or asks a
running TF Serving (or `python -m serving`) over REST or gRPC.

    python -m keras_l11.detection.client --server 127.0.0.1:8501 --model rcnn canvas.png --out detections.png
    python -m keras_l11.detection.client --saved_model saved_models/rcnn --windows photo.jpg --classes voc
"""

import argparse
import io
import sys

import numpy as np

from keras_l11 import command_line
from keras_l11.detection import proposals
from keras_l11.detection.data import DIGIT_NAMES, VOC_NAMES
from keras_l11.serving.sources import add_source_flags, call_signature

CLASS_NAMES = {"digits": DIGIT_NAMES, "voc": VOC_NAMES}


def read_images(paths):
    """`(encoded bytes, RGB uint8 arrays)` of image files."""
    from PIL import Image, UnidentifiedImageError

    encoded, pixels = [], []
    for path in paths:
        with open(path, "rb") as f:
            data = f.read()
        try:
            pixels.append(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
        except UnidentifiedImageError:
            raise ValueError(f"{path} is not an image file PIL can read") from None
        encoded.append(data)
    return encoded, pixels


def detect(encoded, pixels, ask, windows=False, mode="fast"):
    """Per image `{"boxes", "scores", "classes"}` from `ask(signature, inputs)`."""
    inputs = {"images": np.array(encoded, dtype=object)}
    if windows:
        out = ask("detect_windows", inputs)
    else:
        boxes, counts = proposals.padded([proposals.selective_search(p, mode) for p in pixels])
        out = ask("detect", {**inputs, "proposals": boxes, "num_proposals": counts})
    return [
        {
            "boxes": out["detection_boxes"][b, :n],
            "scores": out["detection_scores"][b, :n],
            "classes": out["detection_classes"][b, :n],
        }
        for b, n in enumerate(np.asarray(out["num_detections"]).astype(int))
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog=f"python -m {__spec__.name}", description=__doc__, formatter_class=command_line.HelpFormatter
    )
    add_source_flags(parser, "rcnn")
    parser.add_argument("images", nargs="+", help="image files (PNG, JPEG, GIF, BMP)")
    parser.add_argument("--windows", action="store_true", help="sliding windows in the graph, no proposals")
    parser.add_argument("--mode", choices=("fast", "quality"), default="fast", help="selective search mode")
    parser.add_argument("--classes", choices=sorted(CLASS_NAMES), default="digits", help="the model's class names")
    parser.add_argument("--min_score", type=float, default=0.5, help="print and draw detections above this")
    parser.add_argument("--out", help="a PNG with the images and their detections")
    args = parser.parse_args(argv)
    names = CLASS_NAMES[args.classes]
    try:
        encoded, pixels = read_images(args.images)
        found = detect(
            encoded,
            pixels,
            lambda signature, inputs: call_signature(
                signature, inputs, args.saved_model, args.server, args.model, args.protocol
            ),
            args.windows,
            args.mode,
        )
    except Exception as err:  # a missing file or model, a refused request: say what, no traceback
        sys.exit(f"error: {err}")
    top = max((int(d["classes"].max()) for d in found if len(d["classes"])), default=-1)
    if top >= len(names):
        sys.exit(f"error: the model detects class {top}, but --classes {args.classes} names {len(names)} classes")
    for path, detections in zip(args.images, found):
        for box, score, cls in zip(detections["boxes"], detections["scores"], detections["classes"]):
            if score >= args.min_score:
                x1, y1, x2, y2 = box
                print(f"{path}\t{names[int(cls)]}\t{score:.3f}\t{x1:.1f} {y1:.1f} {x2:.1f} {y2:.1f}")
    if args.out:
        from keras_l11.detection import figures

        figures.plot_detections(pixels, found, names, args.out, min_score=args.min_score)
        print(f"wrote {args.out}")
    return found


if __name__ == "__main__":
    main()
