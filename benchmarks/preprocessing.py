"""Data preparation's speed: the Apache Beam pipelines (`keras_l11.detection.prepare`,
`keras_l11.video.prepare`) on Beam's local runner against the process pool
that the jobs used before them (`concurrent.futures`, spawned workers, what
`cached_proposals` and the video set builder did, reproduced here as the
baseline), on the same inputs, each end to end (start, compute, write); then
the pipelines' scaling with local workers, and what the paper data sets take
per core at the measured rates.

    python -m benchmarks.preprocessing              # about 5 minutes on 2 cores
    python -m benchmarks.preprocessing --quick      # fewer inputs (a check, not a measurement)

Inputs: generated digit canvases (192 x 192, the offline detection data) for
selective search, and clips of OpenCV's `vtest.avi` (pedestrians) for flow;
for the paper data sets' rates, scikit-image's photographs resized to VOC's
500 x 375 and vtest.avi at UCF-101's 320 x 240.
"""

import argparse
import concurrent.futures
import functools
import multiprocessing
import os
import shutil
import tempfile
import time

import numpy as np

from benchmarks.common import write_report
from keras_l11.training.harness import format_table

WORKERS = 2
# Paper data sets: (name, items, what, item size, reference for the count)
VOC2007_IMAGES = 9963  # trainval 5,011 + test 4,952 (Everingham et al., the VOC 2007 development kit)
COCO_IMAGES = 123287  # train2017 118,287 + val2017 5,000
UCF101_FRAMES = 2_500_000  # about: 13,320 clips, 27 hours at 25 fps (Soomro et al. 2012)


def _search(image, mode):
    from keras_l11.detection.proposals import selective_search

    return selective_search(image, mode)


def pool_proposals(images, mode, workers, folder):
    """The jobs' former cache: `pool.map(selective_search, images, chunksize=8)`
    in spawned processes, then one compressed `.npz`."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        boxes = list(pool.map(functools.partial(_search, mode=mode), images, chunksize=8))
    np.savez_compressed(os.path.join(folder, "proposals.npz"), **{str(i): b for i, b in enumerate(boxes)})
    return boxes


def _flows_chunk(folder, start, stop, method):
    from keras_l11.video.flow import video_flows

    frames = np.load(os.path.join(folder, "frames.npy"), mmap_mode="r")
    flows = np.load(os.path.join(folder, "flows.npy"), mmap_mode="r+")
    for i in range(start, stop):
        flows[i] = video_flows(frames[i], method).astype(np.float16)
    flows.flush()
    return stop - start


def pool_flows(clips, method, workers, folder):
    """The former video set builder: frames to a memory map, then the flows of
    16 videos per task in spawned processes into another."""
    np.save(os.path.join(folder, "frames.npy"), clips)
    shape = (len(clips), clips.shape[1] - 1, *clips.shape[2:4], 2)
    np.lib.format.open_memmap(os.path.join(folder, "flows.npy"), "w+", np.float16, shape).flush()
    chunks = [(folder, s, min(s + 16, len(clips)), method) for s in range(0, len(clips), 16)]
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        list(pool.map(_flows_chunk, *zip(*chunks)))


def beam_proposals(images, mode, workers, folder):
    from keras_l11.data import item_sources
    from keras_l11.detection import prepare

    staged = item_sources.stage_arrays(os.path.join(folder, "inputs.array_record"), images)
    prepare.run("bench", {"bench": staged}, mode, root=folder, pipeline_args=[f"--direct_num_workers={workers}"])


def beam_flows(clips, method, workers, folder):
    from keras_l11.data import beam_pipeline, item_sources
    from keras_l11.video import prepare

    staged = item_sources.stage_arrays(os.path.join(folder, "inputs.array_record"), clips)
    frames, height, width = clips.shape[1:4]
    prep = prepare.preparation("bench", {"bench": staged}, ("vtest",), frames, height, width, method)
    beam_pipeline.run(prep, folder, [f"--direct_num_workers={workers}"])


def timed(run, *args):
    """Seconds of `run(*args, folder)` with a fresh output folder."""
    folder = tempfile.mkdtemp(prefix="preprocessing-")
    try:
        started = time.perf_counter()
        run(*args, folder)
        return time.perf_counter() - started
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def one_process_proposals(images, mode, folder):
    for image in images:
        _search(image, mode)


def one_process_flows(clips, method, folder):
    from keras_l11.video.flow import video_flows

    for clip in clips:
        video_flows(clip, method)


def canvases(count, size=192):
    from keras_l11.data.mnist import digit_canvases

    return [ex["image"] for ex in digit_canvases(count, "test", seed=7, size=size)]


def vtest_clips(count, frames, height, width):
    """`count` clips of `frames` consecutive frames of vtest.avi at `height x width`."""
    import cv2

    from keras_l11.video.data import vtest_frames

    video = vtest_frames(count=count * frames)
    resized = [cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in video]
    return np.stack(resized).reshape(count, frames, height, width, 3)


PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")  # photographs scikit-image ships


def voc_size_photos(count):
    """Real photographs (scikit-image's) at VOC's typical size, 500 x 375: a
    photograph has many more regions than a generated canvas."""
    import skimage.data
    from PIL import Image

    photos = [getattr(skimage.data, name)() for name in PHOTOS]
    return [
        np.asarray(Image.fromarray(photos[k % len(photos)]).resize((500, 375), Image.BILINEAR)) for k in range(count)
    ]


def window_reads(count):
    """Milliseconds per training batch of 32 windows read from a prepared
    moving-digit set (24 frames of 64 x 64), against the same arrays in memory."""
    from keras_l11.data.beam_pipeline import output_folder
    from keras_l11.video.prepare import moving_digit_set, video_set
    from keras_l11.video.task import Window

    folder = tempfile.mkdtemp(prefix="preprocessing-")
    try:
        in_memory = moving_digit_set(count, "train", 0, 24, 64, root=folder)  # a small set: loaded
        made = output_folder(folder, f"flows_digits_train_{count}_0_24x64x64_farneback")
        videos = video_set(made, "train", load_below=0)  # read from the records, as a large set is
        rng, rows = np.random.default_rng(0), []
        for window in (Window("frames", 1, squeeze=True), Window("flows", 10)):
            index, start = rng.integers(0, count, (20, 32)), rng.integers(0, 14, (20, 32))
            times = []
            for store in (videos, in_memory):
                started = time.perf_counter()
                for i, t in zip(index, start):
                    window.read(store, i, t)
                times.append((time.perf_counter() - started) / len(index) * 1000)
            rows.append([f"{window.span} {window.source}", *times])
        return rows
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few inputs each: checks that it runs")
    args = parser.parse_args(argv)
    scale = 0.25 if args.quick else 1.0
    n = lambda count: max(4, int(count * scale))  # noqa: E731
    works = [
        ("selective search, fast", "images", "192 x 192 canvases", canvases(n(128)), "fast", "proposals"),
        ("selective search, quality", "images", "192 x 192 canvases", canvases(n(32)), "quality", "proposals"),
        (
            "Farneback flow",
            "frames",
            "vtest.avi, 12-frame clips at 384 x 288",
            vtest_clips(n(32), 12, 288, 384),
            "farneback",
            "flows",
        ),
        (
            "TV-L1 flow",
            "frames",
            "vtest.avi, 6-frame clips at 192 x 144",
            vtest_clips(n(16), 6, 144, 192),
            "tvl1",
            "flows",
        ),
    ]
    runners = {
        "proposals": (one_process_proposals, pool_proposals, beam_proposals),
        "flows": (one_process_flows, pool_flows, beam_flows),
    }
    speed_rows, scaling_rows, rates = [], [], {}
    for name, unit, inputs, data, option, kind in works:
        one, pool, beam = runners[kind]
        count = len(data) if kind == "proposals" else len(data) * (data.shape[1] - 1)
        print(f"{name}: {count} {unit} ...", flush=True)
        single = count / timed(one, data, option)
        pooled = count / timed(pool, data, option, WORKERS)
        piped = count / timed(beam, data, option, WORKERS)
        rates[name] = single
        speed_rows.append([name, f"{count} {unit} ({inputs})", single, pooled, piped, f"{piped / pooled:.2f}"])
        if kind == "proposals" and option == "fast" or kind == "flows" and option == "farneback":
            alone = count / timed(beam, data, option, 1)
            scaling_rows.append([name, f"{count} {unit}", alone, piped, f"{piped / alone:.2f}x"])
    print("selective search, fast, on photographs at VOC's size ...", flush=True)
    voc = voc_size_photos(n(8))
    voc_rate = len(voc) / timed(one_process_proposals, voc, "fast")
    ucf = vtest_clips(1, n(12), 240, 320)
    print("flow at UCF-101's size ...", flush=True)
    ucf_rates = {m: (ucf.shape[1] - 1) / timed(one_process_flows, ucf, m) for m in ("farneback", "tvl1")}
    per_core = [
        [
            "PASCAL VOC 2007 (trainval + test)",
            f"{VOC2007_IMAGES:,} images",
            "selective search, fast, photos at 500 x 375",
            voc_rate,
            VOC2007_IMAGES / voc_rate / 3600,
        ],
        [
            "COCO 2017 (train + val)",
            f"{COCO_IMAGES:,} images",
            "the same (COCO's images: 640 x 480)",
            voc_rate,
            COCO_IMAGES / voc_rate / 3600,
        ],
        [
            "UCF-101 (every frame)",
            f"about {UCF101_FRAMES:,} frames",
            "Farneback, 320 x 240",
            ucf_rates["farneback"],
            UCF101_FRAMES / ucf_rates["farneback"] / 3600,
        ],
        [
            "UCF-101 (every frame)",
            f"about {UCF101_FRAMES:,} frames",
            "TV-L1, 320 x 240",
            ucf_rates["tvl1"],
            UCF101_FRAMES / ucf_rates["tvl1"] / 3600,
        ],
    ]
    print("training windows from the prepared records ...", flush=True)
    reads = window_reads(n(120))
    sections = [
        (
            f"Items per second, end to end (start, compute, write), {WORKERS} workers on this {os.cpu_count()}-core "
            "machine: Beam's local runner (multi-process) against the process pool the jobs used before",
            format_table(
                [
                    "work",
                    "inputs",
                    "one process /s",
                    f"process pool ({WORKERS}) /s",
                    f"Beam local ({WORKERS}) /s",
                    "Beam / pool",
                ],
                speed_rows,
            ),
        ),
        (
            "Beam's local runner with 1 and 2 worker processes",
            format_table(["work", "inputs", "1 worker /s", "2 workers /s", "speed-up"], scaling_rows),
        ),
        (
            "The paper data sets per core, at the one-process rates measured here (a cluster runner divides "
            "the core-hours by its workers)",
            format_table(["data set", "items", "work", "per core /s", "core-hours"], per_core),
        ),
    ]
    sections.append(
        (
            f"Reading a training batch of 32 random windows ({n(120)} prepared moving-digit videos, 24 frames of "
            "64 x 64): the records a window needs, against the same arrays in memory",
            format_table(["window", "prepared records ms", "in memory ms"], reads),
        )
    )
    if args.quick:  # printed, not written over the measured results
        print("\n\n".join(f"{title} [--quick: not a measurement]\n{table}" for title, table in sections))
    else:
        write_report("preprocessing", sections)


if __name__ == "__main__":
    main()
