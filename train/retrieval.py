"""Image-sentence retrieval: images and sentences embedded in one space,
trained with a bidirectional ranking loss (the lecture's "ranking and
retrieval"; Karpathy & Fei-Fei 2015).

Reports recall@1, 5, 10 and the median rank of image -> sentence and
sentence -> image retrieval over the test images and all their sentences,
beside chance. Offline: generated scenes of two shapes in a spatial relation
(five sentences each; scenes with the same content are indistinguishable, so
recall@1 has a ceiling below 1). `--config paper` reads COCO through TFDS.
The run writes its test images as PNG files to `<model_dir>/gallery/`, to
search with `python -m keras_l11.captioning.client`.

The export `retrieval` has `embed_text` (`serving_default`): `sentences [B]`
strings -> `embeddings [B, D]` (unit vectors), and `embed_image`: encoded
`images [B]` -> `embeddings`. Similarity is the dot product.

    python -m train.retrieval --config small
"""

import os

from keras_l11.captioning.configs import RETRIEVAL_CONFIGS, add_data_flags, build_ranking_model
from keras_l11.training import cli


def write_gallery(test, folder):
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    for i, ex in enumerate(test):
        Image.fromarray(ex["image"]).save(os.path.join(folder, f"{i:04d}.png"))
    return folder


def main(argv=None):
    flags = cli.parse_flags(__spec__.name, __doc__, RETRIEVAL_CONFIGS, add_data_flags, argv)
    from keras_l11.captioning import task as caption_lib
    from keras_l11.captioning.export import retrieval_signatures
    from keras_l11.captioning.retrieval import BidirectionalRankingLoss
    from keras_l11.captioning.task import evaluate_retrieval, pair_arrays
    from keras_l11.training import harness

    run, (train, test), tokenizer = caption_lib.start_caption_job(flags, "retrieval")
    config = run.config
    arrays = pair_arrays(train, tokenizer, config.max_length)
    result = run.fit(
        build_model=lambda: build_ranking_model(config, tokenizer.vocab_size),
        loss=BidirectionalRankingLoss(config.margin),
        metrics=lambda: [],
        # Whole batches only: the loss compares each pair with the batch's others.
        train_data=lambda batch, seed, start: caption_lib.training_rows(arrays, batch, seed, True).skip(start),
    )
    model = run.local_copy(result.model)
    scores, chance = evaluate_retrieval(model, tokenizer, test, config.max_length)
    run.summary["evaluation"] = {**scores, **{f"chance_{k}": v for k, v in chance.items()}}
    print(harness.format_table(["", *scores], [["model", *scores.values()], ["chance", *chance.values()]]))
    if run.is_chief:
        run.summary["gallery"] = write_gallery(test, os.path.join(run.model_dir, "gallery"))
    run.export(result.model, "retrieval", lambda m: retrieval_signatures(m, tokenizer, config), [tokenizer])
    run.write_summary()
    return run.summary


if __name__ == "__main__":
    cli.run_main(main)
