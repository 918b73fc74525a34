"""Selective-search proposals for R-CNN as an Apache Beam pipeline.

Selective search is the slow part of preparing R-CNN's data (0.65 s per
500 x 375 photograph in fast mode on one core here: 1.8 core-hours for VOC
2007, 22 for COCO; `benchmarks/preprocessing.py`), so it runs once, on as many cores or
machines as the runner has, and the detection jobs read what it wrote. Each
image's boxes are `keras_l11.detection.proposals.selective_search(image, mode,
max_proposals, seed=0)`, exactly what a single process computes.

    python -m keras_l11.detection.prepare --data voc2007              # TFDS voc/2007: train, validation, test
    python -m keras_l11.detection.prepare --data digits --config small  # the offline canvases of a config
    python -m keras_l11.detection.prepare --data path/to/images --split test
    python -m keras_l11.detection.prepare --data voc2007 --runner DataflowRunner --project P \\
        --region R --temp_location gs://B/tmp --setup_file ./setup.py --output gs://B/prepared

Records (`keras_l11.data.beam_pipeline`): `id`, `index`, `boxes` float32
`[n, 4]` (`x1, y1, x2, y2`, pixels) and `image_sha1` (of the decoded RGB
pixels: a job refuses proposals that were made for other images). Written to
`<output>/proposals_<data>_<mode>_<max proposals>/1.0.0/`, `--output` being the
derived-data cache by default (`keras_l11.data.install.prepared_dir()`).
"""

import functools
import hashlib
import os
import sys

import numpy as np

from keras_l11.data import item_sources
from keras_l11.data.install import prepared_dir

MAX_IMAGES_PER_SHARD = 32


def proposal_features():
    import tensorflow_datasets as tfds

    encoding = tfds.features.Encoding.BYTES
    return {
        "boxes": tfds.features.Tensor(shape=(None, 4), dtype=np.float32, encoding=encoding),
        "image_sha1": tfds.features.Text(),
    }


def image_sha1(image):
    return hashlib.sha1(np.ascontiguousarray(image, np.uint8).tobytes()).hexdigest()


def proposal_record(payload, mode, max_proposals):
    """A worker's work for one image: its proposals."""
    from keras_l11.detection.proposals import selective_search

    image = payload["array"]
    return {"boxes": selective_search(image, mode, max_proposals), "image_sha1": image_sha1(image)}


def preparation(name, splits, mode="fast", max_proposals=2000, items_per_shard=0):
    """The proposals pipeline of `splits` (`{split: source}`)."""
    from keras_l11.data.beam_pipeline import Preparation, name_part

    if mode not in ("fast", "quality"):
        raise ValueError(f"mode must be 'fast' or 'quality', got {mode!r}")
    return Preparation(
        name=f"proposals_{name_part(name) or 'images'}_{mode}_{max_proposals}",
        features=proposal_features,
        transform=functools.partial(proposal_record, mode=mode, max_proposals=max_proposals),
        splits=splits,
        settings={"mode": mode, "max_proposals": max_proposals, "seed": 0, "min_size": 4},
        items_per_shard=items_per_shard,
        max_items_per_shard=MAX_IMAGES_PER_SHARD,
        what="images",
    )


def digits_splits(examples_by_split, root, mode="fast", max_proposals=2000):
    """Offline canvases (in memory) staged for the workers, unless their
    proposals are made already; the data set's name carries a digest of the
    images, so other canvases get another folder."""
    from keras_l11.data import beam_pipeline

    digest = hashlib.sha1()
    for split in sorted(examples_by_split):
        for ex in examples_by_split[split]:
            digest.update(np.ascontiguousarray(ex["image"]).tobytes())
    name = f"digits_{digest.hexdigest()[:12]}"
    needed = not beam_pipeline.is_complete(root, preparation(name, {}, mode, max_proposals).name)
    splits = {}
    for split, examples in examples_by_split.items():
        path = os.path.join(root, "inputs", name, f"{split}.array_record")
        make = lambda examples=examples: ([e["image"] for e in examples], None)  # noqa: E731
        splits[split] = item_sources.staged_arrays(path, len(examples), make, needed)
    return name, splits


VOC_SPLITS = ("train", "validation", "test")


def voc2007_splits(data_dir=""):
    return {s: item_sources.TfdsSource("voc/2007", s, data_dir=data_dir, image_key="image") for s in VOC_SPLITS}


def run(name, splits, mode="fast", max_proposals=2000, root=None, pipeline_args=(), items_per_shard=0):
    """Runs (or resumes) the pipeline; returns `(output folder, report)`."""
    from keras_l11.data import beam_pipeline

    prep = preparation(name, splits, mode, max_proposals, items_per_shard)
    report = beam_pipeline.run(prep, root or prepared_dir(), pipeline_args)
    return beam_pipeline.output_folder(root or prepared_dir(), prep.name), report


def read_proposals(folder, split, examples):
    """Each example's boxes from the prepared `split` (one split: `proposals_for`
    joins "train+validation"), checked against the example's image; an image
    the pipeline skipped gets no boxes (and a warning)."""
    from keras_l11.data.prepared_records import PreparedSplit

    records = PreparedSplit(folder, split)
    by_index = {int(r["index"]): r for r in records.records(range(len(records)))}
    out, missing = [], []
    for i, ex in enumerate(examples):
        record = by_index.get(i)
        if record is None:
            missing.append(i)
            out.append(np.zeros((0, 4), np.float32))
            continue
        if record["image_sha1"].decode() != image_sha1(ex["image"]):
            raise ValueError(
                f"{folder} ({split}) holds proposals of other images than the job's (image {i} differs); "
                "delete the folder, or prepare it again from the same data"
            )
        out.append(np.asarray(record["boxes"], np.float32))
    if missing:
        print(
            f"warning: {len(missing)} {split} images have no proposals (skipped by the pipeline: "
            f"see {folder}/report.json): {missing[:10]}",
            file=sys.stderr,
        )
    return out


def proposals_for(data, examples_by_split, mode="fast", max_proposals=2000, pipeline_args=()):
    """What a detection job reads: `{split: [boxes per example]}` for its
    examples (`data` "digits", staged from memory, or "voc2007", read by the
    workers from TFDS), prepared first where the folder is not complete.
    A split may join VOC's ("train+validation")."""
    root = prepared_dir()
    if data == "digits":
        name, splits = digits_splits(examples_by_split, root, mode, max_proposals)
    elif data == "voc2007":
        name, splits = "voc2007", voc2007_splits()
    else:
        raise ValueError(f"data must be 'digits' or 'voc2007', got {data!r}")
    folder, _ = run(name, splits, mode, max_proposals, root, pipeline_args)
    item_sources.unstage(splits.values())  # the staged canvases: their records are made
    out = {}
    for split, examples in examples_by_split.items():
        parts, offset = [], 0
        for part in split.split("+"):
            count = splits[part].count()  # items, read or skipped
            parts.extend(read_proposals(folder, part, examples[offset : offset + count]))
            offset += count
        out[split] = parts
    return out


def main(argv=None):
    from keras_l11.data import beam_options
    from keras_l11.detection.configs import RCNN_CONFIGS

    parser = beam_options.command_parser(
        "python -m keras_l11.detection.prepare",
        "Selective-search proposals as an Apache Beam pipeline.",
        MAX_IMAGES_PER_SHARD,
        "images",
    )
    parser.add_argument(
        "--data",
        required=True,
        help="voc2007 (TFDS voc/2007), digits (the offline canvases of --config) or a folder of images",
    )
    parser.add_argument("--config", default="small", choices=sorted(RCNN_CONFIGS), help="with --data digits")
    parser.add_argument("--split", default="train", help="with a folder: the split name its images get")
    parser.add_argument("--mode", default="fast", choices=("fast", "quality"))
    parser.add_argument("--max_proposals", type=int, default=2000)
    args, beam_args = beam_options.parse_command(parser, argv)
    try:
        if args.data == "voc2007":
            name, splits = "voc2007", voc2007_splits(args.tfds_data_dir)
        elif args.data == "digits":
            from keras_l11.detection.data import load_examples

            train, test, _ = load_examples(RCNN_CONFIGS[args.config])
            name, splits = digits_splits({"train": train, "test": test}, args.output, args.mode, args.max_proposals)
        else:
            folder = os.path.abspath(args.data)
            source = item_sources.FolderSource(folder, item_sources.IMAGE_PATTERNS)
            name, splits = f"{os.path.basename(folder)}_{args.split}", {args.split: source}
        folder, report = run(name, splits, args.mode, args.max_proposals, args.output, beam_args, args.items_per_shard)
        item_sources.unstage(splits.values())
    except (FileNotFoundError, ValueError, RuntimeError) as err:
        sys.exit(f"error: {err}")
    print(beam_options.summary_line(folder, report, "images"))


if __name__ == "__main__":
    main()
