"""Classifies video files with an exported video model: reads the frames,
computes their optical flow on the client when the signature takes flows
(OpenCV code cannot run inside a SavedModel), and calls the `classify`
signature of a SavedModel folder or of a running TF Serving (or `python -m
serving`) over REST or gRPC.

    python -m keras_l11.video.client --server 127.0.0.1:8501 --model two_stream clip.avi
    python -m keras_l11.video.client --saved_model saved_models/two_stream_temporal --frames 24 clip.avi
"""

import argparse
import sys

import numpy as np

from keras_l11 import command_line
from keras_l11.serving.sources import add_source_flags, call_signature, saved_signature
from keras_l11.video import data as video_data
from keras_l11.video.flow import METHODS, video_flows


def signature_inputs(signature, saved_model=None, server=None, model=None, protocol="rest"):
    """`{input name: shape}` of a signature (unknown sizes are None)."""
    if saved_model:
        fn = saved_signature(saved_model, signature)
        return {name: spec.shape.as_list() for name, spec in fn.structured_input_signature[1].items()}
    from keras_l11.serving.client import Client

    with Client(server, protocol=protocol) as client:
        signatures = client.metadata(model)
    if signature not in signatures:
        raise ValueError(f"model {model!r} has no signature {signature!r} (it has {sorted(signatures)})")
    inputs = signatures[signature]["inputs"]
    return {name: [None if d < 0 else d for d in shape] for name, (_, shape) in inputs.items()}


def capped(size, width):
    """`(height, width)` scaled down (aspect kept) to at most `width` wide."""
    h, w = size
    return (round(h * width / w), width) if w > width else (h, w)


def video_inputs(videos, wanted, size, method="farneback"):
    """The signature's `frames` and/or `flows` for `videos` (RGB uint8 `[V,
    h, w, 3]` each, of one length), all resized to `size` (height, width)."""
    import cv2

    height, width = size
    frames = np.stack([[cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in v] for v in videos])
    inputs = {}
    if "frames" in wanted:
        inputs["frames"] = frames
    if "flows" in wanted:
        inputs["flows"] = np.stack([video_flows(v, method) for v in frames])
    return inputs


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog=f"python -m {__spec__.name}", description=__doc__, formatter_class=command_line.HelpFormatter
    )
    add_source_flags(parser, "two_stream")
    parser.add_argument("videos", nargs="+", help="video files OpenCV can read (AVI, MP4, ...)")
    parser.add_argument("--frames", type=int, default=24, help="classify the first N frames of each video")
    parser.add_argument(
        "--size",
        type=int,
        nargs=2,
        default=None,
        metavar=("HEIGHT", "WIDTH"),
        help="frame size sent (default: the flows input's, else the video's, at most 256 wide)",
    )
    parser.add_argument("--flow", choices=METHODS, default="farneback", help="the flow the model was trained on")
    parser.add_argument("--signature", default="classify")
    parser.add_argument("--classes", choices=("digits", "none"), default="digits", help="print class names")
    parser.add_argument("--top", type=int, default=3)
    args = parser.parse_args(argv)
    source = dict(saved_model=args.saved_model, server=args.server, model=args.model, protocol=args.protocol)
    try:
        wanted = signature_inputs(args.signature, **source)
        videos = [video_data.read_video(path, args.frames) for path in args.videos]
        size = args.size or (wanted["flows"][2:4] if "flows" in wanted else capped(videos[0].shape[1:3], 256))
        lengths = {len(v) for v in videos}
        if len(lengths) > 1:
            raise ValueError(f"the videos have different lengths {sorted(lengths)}: pass --frames at most the shortest")
        out = call_signature(args.signature, video_inputs(videos, wanted, size, args.flow), **source)
    except Exception as err:  # a missing file or model, a refused request: say what, no traceback
        sys.exit(f"error: {err}")
    names = video_data.CLASS_NAMES if args.classes == "digits" else None
    probabilities = np.asarray(out["probabilities"])
    for path, p in zip(args.videos, probabilities):
        best = np.argsort(-p)[: args.top]
        shown = [f"{names[k] if names and k < len(names) else k} {p[k]:.3f}" for k in best]
        print(f"{path}\t" + "\t".join(shown))
    return out


if __name__ == "__main__":
    main()
