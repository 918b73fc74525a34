"""Captioning and retrieval on the generated scenes: BLEU-1..4, CIDEr and
ROUGE-L of greedy and beam-3 captions against the most-frequent-caption
baseline, recall@K and median rank in both directions against chance, beside
the papers' COCO figures; example captions with their log-probabilities; and
captions per second through the exported `caption` signature.

    python -m benchmarks.captioning            # trains the two small runs first (about 12 min)
    python -m benchmarks.captioning --reuse    # reads their runs/benchmark/*/summary.json if present
"""

import time

from benchmarks.common import parser_with_run_flags, run_small, write_report
from keras_l11.training.harness import format_table

CAPTION_MEASURES = ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "CIDEr", "ROUGE-L")
# COCO test: Show and Tell (Vinyals et al. 2015, Table 1) BLEU-4 27.7; NeuralTalk (Karpathy & Fei-Fei 2015,
# Table 2, VGGNet) CIDEr 66.0 (as the papers print them: BLEU x 100, CIDEr x 100).
PAPER = {"Show and Tell (COCO)": {"BLEU-4": 27.7}, "NeuralTalk (COCO)": {"CIDEr": 66.0}}
RETRIEVAL_MEASURES = ("R@1", "R@5", "R@10", "median_rank")


def captioning(summary):
    ev = summary["evaluation"]
    rows = [[name, *(s[m] for m in CAPTION_MEASURES)] for name, s in ev.items()]
    rows += [[name, *(p.get(m, "") for m in CAPTION_MEASURES)] for name, p in PAPER.items()]
    examples = "\n".join(f"{ex['caption']}  logprob: {ex['log_prob']:.2f}" for ex in summary["examples"])
    return format_table(["small config, 200 test scenes", *CAPTION_MEASURES], rows), examples


def retrieval(summary):
    ev = summary["evaluation"]
    rows = []
    for direction in ("image_to_text", "text_to_image"):
        rows.append([direction.replace("_", " "), *(ev[f"{direction}_{m}"] for m in RETRIEVAL_MEASURES)])
        rows.append(["  chance", *(ev[f"chance_{direction}_{m}"] for m in RETRIEVAL_MEASURES)])
    return format_table(["200 test scenes, 1,000 sentences", *RETRIEVAL_MEASURES], rows)


def caption_speed(export, rounds=3):
    """Captions per second of the exported `caption` signature (in process: the
    model's own speed, without a server's encoding)."""
    import tensorflow as tf

    from keras_l11.captioning.data import caption_scenes
    from keras_l11.ops.images import encode_png
    from keras_l11.serving.sources import saved_signature

    signature = saved_signature(export, "caption")
    rows = []
    for batch in (1, 32):
        images = tf.constant([encode_png(ex["image"]) for ex in caption_scenes(batch, seed=9)])
        for beam in (1, 3):
            signature(images=images, beam_size=tf.constant(beam))  # warm up
            best = float("inf")
            for _ in range(rounds):
                started = time.perf_counter()
                signature(images=images, beam_size=tf.constant(beam))
                best = min(best, time.perf_counter() - started)
            rows.append([batch, beam, batch / best, 1000 * best / batch])
    return format_table(["batch", "beam", "captions/s", "ms per caption"], rows)


def main(argv=None):
    parser = parser_with_run_flags(__doc__.split("\n\n")[0])
    args = parser.parse_args(argv)
    caption_run = run_small("captioning", args.runs_dir, args.reuse)
    retrieval_run = run_small("retrieval", args.runs_dir, args.reuse)
    table, examples = captioning(caption_run)
    write_report(
        "captioning",
        [
            ("Captioning, generated scenes (5 references each; the papers: COCO, x 100)", table),
            ("Example captions (beam 3) with their log-probabilities (nats)", examples),
            ("Image-sentence retrieval, generated scenes", retrieval(retrieval_run)),
            (
                "Captions per second through the exported caption signature (2 CPU cores)",
                caption_speed(caption_run["export"]),
            ),
        ],
    )


if __name__ == "__main__":
    main()
