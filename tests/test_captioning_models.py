"""Captioning and retrieval building blocks: the generated scenes and their
grammar, the Flickr reader, decoding with log-probabilities, the ranking
loss, and the caption and retrieval measures against their references."""

import numpy as np
import pytest
import tensorflow as tf

from keras_l11.captioning import data as caption_data
from keras_l11.captioning.caption_network import CaptionNetwork
from keras_l11.captioning.metrics import caption_scores, retrieval_scores, tokenize
from keras_l11.captioning.retrieval import BidirectionalRankingLoss, ImageSentenceEmbedding


def test_scenes_show_what_their_sentences_say():
    for example in caption_data.caption_scenes(30, seed=3):
        (colour_a, shape_a), relation, (colour_b, shape_b) = example["scene"]
        image = example["image"].astype(int)
        centres = []
        for colour in (colour_a, colour_b):
            ys, xs = np.nonzero(np.abs(image - caption_data.COLOURS[colour]).sum(-1) < 60)
            centres.append((xs.mean(), ys.mean()))
        (xa, ya), (xb, yb) = centres
        if colour_a != colour_b:  # same-coloured pairs cannot be told apart by colour here
            expected = {"left": xa < xb, "right": xa > xb, "above": ya < yb, "below": ya > yb}[relation]
            assert expected, example["scene"]
        sentences = example["captions"]
        assert len(set(sentences)) == caption_data.REFERENCES
        for s in sentences:
            assert f"{colour_a} {shape_a}" in s and f"{colour_b} {shape_b}" in s


def test_flickr_token_files_are_read_and_bad_lines_named(tmp_path):
    tokens = tmp_path / "Flickr8k.token.txt"
    tokens.write_text("a.jpg#0\tA dog runs .\na.jpg#1\tThe dog is running .\n\nb.jpg#0\tTwo cats .\n")
    assert caption_data.read_flickr_tokens(tokens) == {
        "a.jpg": ["A dog runs .", "The dog is running ."],
        "b.jpg": ["Two cats ."],
    }
    (tmp_path / "bad.txt").write_text("a.jpg A dog without a tab\n")
    with pytest.raises(ValueError, match="bad.txt:1"):
        caption_data.read_flickr_tokens(tmp_path / "bad.txt")


def test_caption_scores_agree_with_pycocoevalcap_run_directly():
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    references = [
        [
            "A red circle above a blue square.",
            "a blue square below a red circle",
            "there is a red circle over a blue square",
        ],
        ["a green triangle left of a yellow circle", "the yellow circle is right of the green triangle"],
        ["a blue square under a red triangle", "a red triangle above a blue square"],
    ]
    candidates = ["a red circle above a blue square", "a green circle left of a yellow triangle", "a red square"]
    ours = caption_scores(references, candidates)
    gts = {i: [tokenize(r) for r in refs] for i, refs in enumerate(references)}
    res = {i: [c] for i, c in enumerate(candidates)}
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    assert [ours[f"BLEU-{n}"] for n in range(1, 5)] == pytest.approx(bleu)
    assert ours["CIDEr"] == pytest.approx(Cider().compute_score(gts, res)[0])
    assert ours["ROUGE-L"] == pytest.approx(Rouge().compute_score(gts, res)[0])
    assert tokenize("A red circle, above.") == "a red circle above"
    perfect = caption_scores(references, [refs[0] for refs in references])
    assert perfect["BLEU-1"] == pytest.approx(1.0) and perfect["CIDEr"] > ours["CIDEr"]


def test_recall_at_k_and_median_rank_on_a_constructed_similarity_matrix():
    owner = np.array([0, 0, 1, 2])  # image 0 has two sentences
    similarity = np.array(
        [
            [0.9, 0.1, 0.5, 0.0],  # image 0: its sentence 0 first
            [0.2, 0.3, 0.1, 0.8],  # image 1: its sentence 2 ranks 4th
            [0.1, 0.7, 0.0, 0.6],  # image 2: its sentence 3 ranks 2nd
        ]
    )
    scores = retrieval_scores(similarity, owner, ks=(1, 2))
    # Image -> text ranks: 1, 4, 2. Text -> image ranks: s0 1, s1 (0.1 vs 0.3, 0.7) 3, s2 (0.1 vs 0.5) 2,
    # s3 (0.6 vs 0.8) 2.
    assert scores["image_to_text_R@1"] == pytest.approx(1 / 3)
    assert scores["image_to_text_R@2"] == pytest.approx(2 / 3)
    assert scores["image_to_text_median_rank"] == 2
    assert scores["text_to_image_R@1"] == pytest.approx(1 / 4)
    assert scores["text_to_image_R@2"] == pytest.approx(3 / 4)
    assert scores["text_to_image_median_rank"] == 2


def test_the_ranking_loss_is_its_formula():
    rng = np.random.default_rng(0)
    similarity = rng.uniform(-1, 1, (4, 4)).astype(np.float32)
    margin = 0.3
    expected = [
        sum(
            max(0, margin - similarity[i, i] + similarity[i, j]) + max(0, margin - similarity[i, i] + similarity[j, i])
            for j in range(4)
            if j != i
        )
        for i in range(4)
    ]
    loss = BidirectionalRankingLoss(margin, reduction=None)(np.zeros(4), similarity)
    np.testing.assert_allclose(loss, expected, rtol=1e-6)
    model = ImageSentenceEmbedding(10, 32, 32, units=8, word_dim=8, embedding_dim=16, dense_units=(16,))
    images = rng.uniform(0, 255, (3, 32, 32, 3)).astype(np.float32)
    sentences = np.array([[3, 4, 0], [5, 0, 0], [6, 7, 8]], np.int32)
    scores = model({"images": images, "sentences": sentences}).numpy()
    direct = model.embed_images(images).numpy() @ model.embed_sentences(sentences).numpy().T
    np.testing.assert_allclose(scores, direct, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(model.embed_images(images), axis=1), 1, rtol=1e-5)


@pytest.fixture(scope="module")
def caption_model():
    tf.random.set_seed(0)
    return CaptionNetwork(12, 32, 32, dense_units=(16,), embedding_dim=8, units=16)


def test_beam_size_one_is_greedy_and_log_probs_are_the_models_scores(caption_model):
    images = np.random.default_rng(1).uniform(0, 255, (4, 32, 32, 3)).astype(np.float32)
    start, end = 2, 3
    greedy, greedy_log_probs = caption_model.greedy(images, start, end, 10)
    beam, beam_log_probs = caption_model.beam_search(images, start, end, 1, 10)
    width = beam.shape[-1]
    np.testing.assert_array_equal(beam[:, 0].numpy(), greedy[:, :width].numpy())
    np.testing.assert_allclose(beam_log_probs[:, 0], greedy_log_probs, rtol=1e-5)
    np.testing.assert_allclose(caption_model.score(images, greedy, start, end), greedy_log_probs, rtol=1e-5)
    beams, log_probs = caption_model.beam_search(images, start, end, 3, 10)
    for k in range(3):
        np.testing.assert_allclose(caption_model.score(images, beams[:, k], start, end), log_probs[:, k], rtol=1e-4)
    assert (np.diff(log_probs.numpy(), axis=1) <= 1e-6).all()  # best first


def test_captions_end_at_the_end_token(caption_model):
    """A model whose readout always prefers the end token after the first word ends every caption there."""
    images = np.zeros((2, 32, 32, 3), np.float32)
    readout = caption_model.readout
    kernel, bias = readout.get_weights()
    forced = bias.copy()
    forced[3] = 50.0  # the end token
    readout.set_weights([np.zeros_like(kernel), forced])
    try:
        tokens, log_probs = caption_model.greedy(images, 2, 3, 6)
        np.testing.assert_array_equal(tokens.numpy(), 3)  # ended at once, padded with end tokens
        np.testing.assert_allclose(log_probs, 0, atol=1e-5)  # log p(end) ~ 0, and nothing counted after it
        # Every beam ends within two steps, so the search stops early; each beam is still read back whole.
        beams, beam_log_probs = caption_model.beam_search(images, 2, 3, 3, 6)
        beams = beams.numpy()
        assert (beams[:, 0] == 3).all()  # the best: end at once
        assert (beams[:, 1:, 0] != 3).all() and (beams[:, 1:, 1:] == 3).all()  # one word, then the end
        assert (beams[:, 1, 0] != beams[:, 2, 0]).all()
        for k in range(3):
            np.testing.assert_allclose(caption_model.score(images, beams[:, k], 2, 3), beam_log_probs[:, k], rtol=1e-5)
    finally:
        readout.set_weights([kernel, bias])


@pytest.mark.parametrize(
    "make, inputs",
    [
        (
            lambda: CaptionNetwork(12, 32, 32, dense_units=(16,), embedding_dim=8, units=16),
            {"images": np.full((2, 32, 32, 3), 100, np.float32), "caption_in": np.array([[2, 5, 6], [2, 7, 0]])},
        ),
        (
            lambda: ImageSentenceEmbedding(12, 32, 32, dense_units=(16,), embedding_dim=8, word_dim=8, units=8),
            {"images": np.full((2, 32, 32, 3), 100, np.float32), "sentences": np.array([[5, 6], [7, 0]])},
        ),
    ],
)
def test_caption_and_ranking_models_round_trip_through_keras_files(make, inputs, tmp_path):
    import keras

    model = make()
    model.save(tmp_path / "model.keras")
    again = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(again(inputs).numpy(), model(inputs).numpy(), rtol=1e-5, atol=1e-6)


def test_flickr_configs_need_their_folder(tmp_path):
    import dataclasses

    from keras_l11.captioning.configs import CaptionDataConfig
    from keras_l11.captioning.task import load_caption_data

    with pytest.raises(ValueError, match="needs --data_path"):
        load_caption_data(dataclasses.replace(CaptionDataConfig(), data="flickr8k"))
    (tmp_path / "Flickr8k.token.txt").write_text("a.jpg#0\tA dog .\n")
    (tmp_path / "images").mkdir()
    with pytest.raises(FileNotFoundError, match="Flickr_8k.trainImages.txt.*dataset_flickr8k.json"):
        load_caption_data(dataclasses.replace(CaptionDataConfig(), data="flickr8k"), str(tmp_path))
    for name in caption_data.FLICKR8K_SPLIT_FILES.values():
        (tmp_path / name).write_text("a.jpg\n")
    with pytest.raises(FileNotFoundError, match="a.jpg"):
        load_caption_data(dataclasses.replace(CaptionDataConfig(), data="flickr8k"), str(tmp_path))


def write_flickr(folder, token_file, captions, size=(40, 30)):
    """A Flickr download in its own format: the token file (`name.jpg#k<TAB>caption`)
    and the JPEG images, each a flat colour numbered by its position."""
    from PIL import Image

    (folder / "images").mkdir(parents=True)
    lines = []
    for i, (name, texts) in enumerate(captions.items()):
        Image.new("RGB", size, (10 * i, 0, 0)).save(folder / "images" / name, "JPEG", quality=100)
        lines += [f"{name}#{k}\t{text}" for k, text in enumerate(texts)]
    (folder / token_file).write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("dataset", ["flickr8k", "flickr30k"])
def test_flickr_reads_the_papers_split(tmp_path, dataset):
    """Flickr8k's own image lists, or Karpathy's split file (Flickr30k's only split):
    training on the train list, evaluating on the test list, whatever the order of
    the token file."""
    import dataclasses
    import json

    from keras_l11.captioning.configs import CaptionDataConfig
    from keras_l11.captioning.task import FLICKR_FILES, load_caption_data

    names = [f"{1000 + i}_{i}.jpg" for i in range(7)]
    captions = {n: [f"a dog number {i} .", f"dog {i} runs ."] for i, n in enumerate(names)}
    write_flickr(tmp_path, FLICKR_FILES[dataset], captions)
    split = {"train": names[:4], "val": names[4:5], "test": names[5:]}
    if dataset == "flickr8k":
        for part, file in caption_data.FLICKR8K_SPLIT_FILES.items():
            (tmp_path / file).write_text("".join(n + "\n" for n in split[part]))
    else:
        images = [
            {
                "filename": n,
                "split": "restval" if n == names[3] else part,
                "sentences": [{"raw": c} for c in captions[n]],
            }
            for part, listed in split.items()
            for n in listed
        ]
        (tmp_path / f"dataset_{dataset}.json").write_text(json.dumps({"images": images, "dataset": dataset}))
    config = dataclasses.replace(CaptionDataConfig(), data=dataset, image_size=16)
    train, test = load_caption_data(config, str(tmp_path))
    assert [ex["captions"] for ex in train] == [captions[n] for n in names[:4]]  # restval is training data
    assert [ex["captions"] for ex in test] == [captions[n] for n in names[5:]]
    assert test[0]["image"].shape == (16, 16, 3) and abs(int(test[1]["image"][..., 0].mean()) - 60) <= 2


def test_the_paper_configs_read_coco_captions_through_tfds():
    """TFDS's own mock of `coco_captions` (random images and strings with the
    builder's features) goes through the reader the paper configs use."""
    import dataclasses

    import tensorflow_datasets as tfds

    from keras_l11.captioning.configs import CaptionDataConfig
    from keras_l11.captioning.task import load_caption_data

    with tfds.testing.mock_data(num_examples=3, policy=tfds.testing.MockPolicy.USE_CODE):
        train, test = load_caption_data(dataclasses.replace(CaptionDataConfig(), data="coco", image_size=40))
    for examples in (train, test):
        assert len(examples) == 3
        for ex in examples:
            assert ex["image"].shape == (40, 40, 3) and ex["image"].dtype == np.uint8
            assert ex["captions"] and all(isinstance(c, str) for c in ex["captions"])
