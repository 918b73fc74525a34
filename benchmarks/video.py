"""Video classification on the offline moving digits: the two-stream network
(each stream, averaging and SVM fusion), LRCN against its single-frame
baseline, and Karpathy et al.'s four ways of fusing time, beside the papers'
figures; optical flow frames per second and training clips per second.

    python -m benchmarks.video            # trains the small runs first (about 25 min)
    python -m benchmarks.video --reuse    # reads their runs/benchmark/*/summary.json if present
"""

import os
import time

import numpy as np

from benchmarks.common import ROOT, parser_with_run_flags, run_small, write_report
from keras_l11.training.harness import format_table

# Simonyan & Zisserman 2014, Table 4 (UCF-101, mean over the three splits).
TWO_STREAM_PAPER = {"spatial": 73.0, "temporal": 83.7, "average": 86.9, "svm": 88.0}
LRCN_PAPER = {"LRCN, fused 0.33, 0.67": 82.34}  # Donahue et al. 2014, UCF-101 split 1
KARPATHY_PAPER = {"single": 59.3, "slow": 60.9}  # Karpathy et al. 2014, Sports-1M video hit@1
MEASURES = ("clip_accuracy", "video_accuracy", "motion_accuracy", "digit_accuracy")


def clips_per_second(summary):
    return summary["final_step"] * summary["global_batch_size"] / summary["train_seconds"]


def row(name, ev, paper="", speed=""):
    return [name, *(ev[m] for m in MEASURES), paper, speed]


def two_stream(runs_dir, reuse):
    spatial = run_small("two_stream", runs_dir, reuse, "two_stream-spatial", ["--stream", "spatial"])
    temporal = run_small("two_stream", runs_dir, reuse, "two_stream-temporal", ["--stream", "temporal"])
    trajectory = run_small(
        "two_stream", runs_dir, reuse, "two_stream-trajectory", ["--stream", "temporal", "--trajectory"]
    )
    streams = ["--spatial_from", os.path.join(runs_dir, "two_stream-spatial")]
    streams += ["--temporal_from", os.path.join(runs_dir, "two_stream-temporal")]
    fused = run_small("two_stream", runs_dir, reuse, "two_stream-fused", ["--fuse", *streams])["evaluation"]
    rows = [
        row("spatial stream (RGB frames)", fused["spatial"], TWO_STREAM_PAPER["spatial"], clips_per_second(spatial)),
        row(
            "temporal stream (10 stacked flows)",
            fused["temporal"],
            TWO_STREAM_PAPER["temporal"],
            clips_per_second(temporal),
        ),
        row("temporal stream, trajectory stacking", trajectory["evaluation"], "", clips_per_second(trajectory)),
        row("fusion by averaging", fused["average"], TWO_STREAM_PAPER["average"]),
        row("fusion by linear SVM", fused["svm"], TWO_STREAM_PAPER["svm"]),
        ["chance", spatial["evaluation"]["chance"], spatial["evaluation"]["chance"], 0.25, 1 / 3, "", ""],
    ]
    header = ["two-stream (small config, 240 test videos)", *MEASURES, "paper (UCF-101 %)", "training clips/s"]
    return format_table(header, rows)


def lrcn(runs_dir, reuse):
    rows = []
    for single in (False, True):
        prefix = "lrcn-single_frame" if single else "lrcn"
        label = "single frame" if single else "LRCN"
        flag = ["--single_frame"] if single else []
        rgb = run_small("lrcn", runs_dir, reuse, f"{prefix}-rgb", ["--modality", "rgb", *flag])
        flow = run_small("lrcn", runs_dir, reuse, f"{prefix}-flow", ["--modality", "flow", *flag])
        models = ["--rgb_from", os.path.join(runs_dir, f"{prefix}-rgb")]
        models += ["--flow_from", os.path.join(runs_dir, f"{prefix}-flow")]
        fused = run_small("lrcn", runs_dir, reuse, f"{prefix}-fused", ["--fuse", *models])["evaluation"]
        speed = {"rgb": clips_per_second(rgb), "flow": clips_per_second(flow)}
        for name, ev in fused.items():
            rows.append(row(f"{label}, {name}", ev, LRCN_PAPER.get(f"{label}, {name}", ""), speed.get(name, "")))
    header = ["LRCN vs single frame (16-frame clips, 3 per video)", *MEASURES, "paper (UCF-101 %)", "training clips/s"]
    return format_table(header, rows)


def karpathy(runs_dir, reuse):
    rows = []
    for fusion, multires in (("single", False), ("single", True), ("early", False), ("late", False), ("slow", False)):
        extra = ["--fusion", fusion] + (["--multiresolution"] if multires else [])
        name = f"video_fusion-{fusion}{'-multires' if multires else ''}"
        summary = run_small("video_fusion", runs_dir, reuse, name, extra)
        label = f"{fusion} frame" if fusion == "single" else f"{fusion} fusion"
        label += " + multiresolution" if multires else ""
        paper = "" if multires else KARPATHY_PAPER.get(fusion, "")
        rows.append(row(label, summary["evaluation"], paper, clips_per_second(summary)))
    header = ["fusion in time (20 clips per video)", *MEASURES, "paper (Sports-1M video hit@1 %)", "training clips/s"]
    return format_table(header, rows)


def flow_speed(rounds=3):
    import cv2

    from keras_l11.video import figures
    from keras_l11.video.data import vtest_frames
    from keras_l11.video.flow import optical_flow, video_flows

    frames = vtest_frames(count=12)  # 768 x 576 pedestrians
    figure = os.path.join(ROOT, "docs", "video", "vtest_flow.png")
    os.makedirs(os.path.dirname(figure), exist_ok=True)
    small = np.stack([cv2.resize(f, (256, 192), interpolation=cv2.INTER_AREA) for f in frames[:10]])
    figures.plot_video_flow([small], [video_flows(small)], figure, ["vtest.avi, Farneback"], steps=(0, 4, 8))
    rows = []
    for height, width in ((64, 64), (224, 224), (576, 768)):
        small = [cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in frames]
        cells = []
        for method in ("farneback", "tvl1"):
            pairs = 2 if method == "tvl1" and width > 64 else 10
            best = float("inf")
            for _ in range(rounds):
                started = time.perf_counter()
                for a, b in zip(small[:pairs], small[1 : pairs + 1]):
                    optical_flow(a, b, method)
                best = min(best, (time.perf_counter() - started) / pairs)
            cells.append(1 / best)
        rows.append([f"{width} x {height}", *cells])
    table = format_table(["frame size (vtest.avi, 2 CPU cores)", "Farneback frames/s", "TV-L1 frames/s"], rows)
    return table


def main(argv=None):
    parser = parser_with_run_flags(__doc__.split("\n\n")[0])
    args = parser.parse_args(argv)
    sections = []
    if not args.skip_quality:
        sections.append(
            (
                "Two-stream networks, offline moving digits (the paper: SVM > averaging > each stream)",
                two_stream(args.runs_dir, args.reuse),
            )
        )
        sections.append(
            (
                "LRCN, offline moving digits (the paper: LRCN > single frame; flow > RGB; fusion best)",
                lrcn(args.runs_dir, args.reuse),
            )
        )
        sections.append(
            (
                "Karpathy et al.'s fusion models, offline moving digits (the paper: slow fusion best)",
                karpathy(args.runs_dir, args.reuse),
            )
        )
    sections.append(("Optical flow speed", flow_speed()))
    write_report("video", sections)


if __name__ == "__main__":
    main()
