"""Video sets with their optical flow, made by an Apache Beam pipeline.

Optical flow is the slow part of the two-stream network's data (TV-L1 runs at
1.5 frames/s at UCF-101's 320 x 240 on one core here, and UCF-101 has about
2.5 million frames: 452 core-hours; `benchmarks/preprocessing.py`), so it is
computed once, on as many cores or machines as the runner has, and the video
jobs read what the pipeline wrote. A video is kept as its central T
frames resized to H x W, their flows (`keras_l11.video.flow.video_flows`,
exactly what a single process computes) and its label, one record per frame
(`t`, `frame` uint8 `[H, W, 3]`, `flow` float16 `[H, W, 2]` from frame t to
t + 1, zeros on the last frame, `label`), so that a training window reads its
own frames and nothing else.

    python -m keras_l11.video.prepare --data ucf101 --frames 25 --height 224 --width 224 --method tvl1
    python -m keras_l11.video.prepare --data digits --config small          # the offline sets of a config
    python -m keras_l11.video.prepare --data path/to/videos                 # one subfolder per class
    python -m keras_l11.video.prepare --data ucf101 --runner FlinkRunner --flink_master HOST:8081 ...

Outputs are written to `<output>/<name>/1.0.0/` (`keras_l11.data.beam_pipeline`);
`video_set` reads one split as a `VideoSet` whose arrays decode videos when
indexed, so a set larger than memory trains a window at a time.
"""

import functools
import os
import sys

import numpy as np

from keras_l11.data import item_sources
from keras_l11.data.install import prepared_dir
from keras_l11.video import data as video_data

MAX_VIDEOS_PER_SHARD = 8
UCF101_SPLITS = ("train", "test")


def frame_features(height, width, class_names):
    """A record is one frame of a video (so that a window reads only its frames)."""
    import tensorflow_datasets as tfds

    encoding = tfds.features.Encoding.BYTES
    return {
        "t": tfds.features.Scalar(np.int32),
        "frame": tfds.features.Tensor(shape=(height, width, 3), dtype=np.uint8, encoding=encoding),
        "flow": tfds.features.Tensor(shape=(height, width, 2), dtype=np.float16, encoding=encoding),
        "label": tfds.features.ClassLabel(names=list(class_names)),
    }


def read_central(path, frames):
    """The central `frames` frames of a video file as RGB uint8 (the last
    repeated if it is shorter), seeking past the others rather than decoding
    them all; a ValueError naming the file when OpenCV decodes none."""
    import cv2

    capture = cv2.VideoCapture(path)
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
    for _ in range(max(0, (total - frames) // 2)):
        if not capture.grab():
            break
    picked = []
    while len(picked) < frames:
        ok, frame = capture.read()
        if not ok:
            break
        picked.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    if not picked:
        raise ValueError(f"{path}: no frames could be read (not a video OpenCV can decode?)")
    return np.stack(picked)


def central_frames(video, frames, height, width):
    """The central `frames` frames of `video` (the last repeated if it is shorter), at `height x width`."""
    import cv2

    video = np.asarray(video, np.uint8)
    start = max(0, (len(video) - frames) // 2)
    picked = [video[min(start + t, len(video) - 1)] for t in range(frames)]
    if picked[0].shape[:2] == (height, width):
        return np.stack(picked)
    return np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in picked])


def flow_records(payload, frames, height, width, method):
    """A worker's work for one video: a record per frame, with the flow from
    that frame to the next (zeros on the last frame, which has none)."""
    from keras_l11.video.flow import video_flows

    video = payload["array"] if "array" in payload else read_central(payload["path"], frames)
    clip = central_frames(video, frames, height, width)
    flows = video_flows(clip, method).astype(np.float16)
    flows = np.concatenate([flows, np.zeros_like(flows[:1])])
    label = payload.get("label", 0)
    return [{"t": t, "frame": clip[t], "flow": flows[t], "label": label} for t in range(frames)]


def preparation(name, splits, class_names, frames, height, width, method="farneback", videos_per_shard=0):
    """The flow pipeline of `splits` (`{split: source}`)."""
    from keras_l11.data.beam_pipeline import Preparation, name_part
    from keras_l11.video.flow import METHODS

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if frames < 2:
        raise ValueError(f"flow needs at least 2 frames per video, got {frames}")
    return Preparation(
        name=f"flows_{name_part(name) or 'videos'}_{frames}x{height}x{width}_{method}",
        features=functools.partial(frame_features, height, width, tuple(class_names)),
        transform=functools.partial(flow_records, frames=frames, height=height, width=width, method=method),
        splits=splits,
        settings={"frames": frames, "height": height, "width": width, "method": method, "classes": list(class_names)},
        items_per_shard=videos_per_shard,
        max_items_per_shard=MAX_VIDEOS_PER_SHARD,
        what="videos",
        catalog=("label",),
    )


def prepared_videos(prep, root=None, pipeline_args=None):
    """Runs (or resumes) `prep`; returns its output folder."""
    from keras_l11.data import beam_pipeline
    from keras_l11.data.beam_options import job_pipeline_args

    root = root or prepared_dir()
    args = job_pipeline_args() if pipeline_args is None else pipeline_args
    beam_pipeline.run(prep, root, args)
    return beam_pipeline.output_folder(root, prep.name)


IN_MEMORY_BYTES = 2 << 30


def video_set(folder, split, load_below=IN_MEMORY_BYTES):
    """A prepared split (a TFDS split spec: "train", "train[:90%]") as a
    `VideoSet`: loaded into memory when its frames and flows take less than
    `load_below` bytes (a training window is then a slice), otherwise read
    from the records a window at a time (`ItemArray`: UCF-101 at the paper's
    sizes)."""
    import json

    from keras_l11.data.prepared_records import PreparedSplit

    with open(os.path.join(folder, "preparation.json")) as f:
        frames = json.load(f)["frames"]
    videos = PreparedSplit(folder, split)
    labels = np.array(videos.catalog("label"), np.int32)
    names = tuple(videos.features["label"].names)
    pixels, flows = videos.array("frame", frames), videos.array("flow", frames - 1)
    if np.prod(pixels.shape) + 2 * np.prod(flows.shape) < load_below:
        pixels, flows = np.asarray(pixels), np.asarray(flows)
    return video_data.VideoSet(pixels, flows, labels, names)


def moving_digit_set(
    count, split="train", seed=0, frames=24, size=64, method="farneback", root=None, pipeline_args=None
):
    """`count` moving-digit videos (`video_data.moving_digit_clips`' videos) with
    their flow: generated here, staged, their flow computed by the pipeline."""
    from keras_l11.data import beam_pipeline

    root = root or prepared_dir()
    name = f"digits_{split}_{count}_{seed}"
    inputs = os.path.join(root, "inputs", f"{name}_{frames}x{size}.array_record")
    names = video_data.CLASS_NAMES
    needed = not beam_pipeline.is_complete(root, preparation(name, {}, names, frames, size, size, method).name)
    make = lambda: video_data.moving_digit_clips(count, split, seed, frames, size)  # noqa: E731
    source = item_sources.staged_arrays(inputs, count, make, needed)
    folder = prepared_videos(preparation(name, {split: source}, names, frames, size, size, method), root, pipeline_args)
    item_sources.unstage([source])  # the staged clips: their records are made
    return video_set(folder, split)


def ucf101_splits(config="ucf101_1_256", data_dir=""):
    return {
        s: item_sources.TfdsSource(f"ucf101/{config}", s, data_dir=data_dir, video_key="video", label_key="label")
        for s in UCF101_SPLITS
    }


def ucf101_set(split, frames, height, width, method="farneback", config="ucf101_1_256", data_dir=""):
    """UCF-101 (`split` of TFDS's `config`: "train", "test" or a slice such as
    "train[:90%]") as a `VideoSet`: each video cut to its central `frames`
    frames at `height x width`. Needs TFDS's prepared data; never downloads."""
    splits = ucf101_splits(config, data_dir)
    names = splits["train"].class_names()
    prep = preparation(f"ucf101_{config}", splits, names, frames, height, width, method)
    return video_set(prepared_videos(prep), split)


def main(argv=None):
    from keras_l11.data import beam_options, beam_pipeline
    from keras_l11.video.configs import TWO_STREAM_CONFIGS

    parser = beam_options.command_parser(
        "python -m keras_l11.video.prepare",
        "Videos with their optical flow as an Apache Beam pipeline.",
        MAX_VIDEOS_PER_SHARD,
        "videos",
    )
    parser.add_argument(
        "--data",
        required=True,
        help="ucf101 (TFDS ucf101), digits (the offline sets of the two-stream --config) "
        "or a folder of videos with one subfolder per class",
    )
    parser.add_argument("--config", default="small", choices=sorted(TWO_STREAM_CONFIGS), help="with --data digits")
    parser.add_argument("--tfds_config", default="ucf101_1_256", help="with --data ucf101: TFDS's builder config")
    parser.add_argument("--split", default="train", help="with a folder: the split name its videos get")
    parser.add_argument("--frames", type=int, default=25, help="central frames kept per video")
    parser.add_argument("--height", type=int, default=224)
    parser.add_argument("--width", type=int, default=224)
    parser.add_argument("--method", default="farneback", choices=("farneback", "tvl1"))
    args, beam_args = beam_options.parse_command(parser, argv)
    try:
        if args.data == "digits":
            config = TWO_STREAM_CONFIGS[args.config]
            sets = [
                (config.train_videos, "train", 0),
                (config.validation_videos, "train", 1),
                (config.test_videos, "test", 2),
            ]
            for count, split, seed in sets:
                videos = moving_digit_set(
                    count, split, seed, config.frames, config.height, config.flow_method, args.output, beam_args
                )
                print(f"digits {split} (seed {seed}): {len(videos)} videos with {config.flow_method} flow")
            return
        if args.data == "ucf101":
            splits = ucf101_splits(args.tfds_config, args.tfds_data_dir)
            name, names = f"ucf101_{args.tfds_config}", splits["train"].class_names()
        else:
            folder = os.path.abspath(args.data)
            source = item_sources.FolderSource(folder, item_sources.VIDEO_PATTERNS, labelled=True)
            splits, names = {args.split: source}, source.class_names()
            name = f"{os.path.basename(folder)}_{args.split}"
        prep = preparation(name, splits, names, args.frames, args.height, args.width, args.method, args.items_per_shard)
        report = beam_pipeline.run(prep, args.output, beam_args)
    except (FileNotFoundError, ValueError, RuntimeError) as err:
        sys.exit(f"error: {err}")
    print(beam_options.summary_line(beam_pipeline.output_folder(args.output, prep.name), report, "videos"))


if __name__ == "__main__":
    main()
