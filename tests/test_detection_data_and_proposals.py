"""Digit canvases, selective search, region labels and warping, backbones."""

import numpy as np
import pytest
import tensorflow as tf

from keras_l11.detection import boxes as box_ops
from keras_l11.detection import data as det_data
from keras_l11.detection import proposals
from keras_l11.detection.boxes import TARGET_SCALE, warp_regions, with_context
from keras_l11.detection.rcnn import RegionCNN, detect, detect_each_way, score_regions
from keras_l11.detection.regions import label_regions, labelled_regions, region_dataset


@pytest.fixture(scope="module")
def canvases():
    return det_data.digit_canvases(6, "test", seed=3)


def test_canvases_are_reproducible_and_their_boxes_are_the_pasted_pixels(canvases):
    again = det_data.digit_canvases(6, "test", seed=3)
    for a, b in zip(canvases, again):
        np.testing.assert_array_equal(a["image"], b["image"])
        np.testing.assert_array_equal(a["boxes"], b["boxes"])
    for ex in canvases:
        assert ex["image"].shape == (192, 192, 3) and ex["image"].dtype == np.uint8
        assert 1 <= len(ex["boxes"]) <= 4 and set(ex["classes"]) <= set(range(10))
        assert np.all(ex["boxes"][:, :2] >= 0) and np.all(ex["boxes"][:, 2:] <= 192)
        assert np.all(ex["boxes"][:, 2:] - ex["boxes"][:, :2] >= 8)


def test_selective_search_returns_hundreds_of_boxes_inside_the_image_that_cover_the_digits(canvases):
    found = [proposals.selective_search(ex["image"]) for ex in canvases]
    for boxes in found:
        assert boxes.dtype == np.float32 and boxes.shape[1] == 4
        assert len(boxes) >= 100
        assert np.all(boxes[:, :2] >= 0) and np.all(boxes[:, 2] <= 192) and np.all(boxes[:, 3] <= 192)
        assert np.all(boxes[:, 2:] > boxes[:, :2])
        assert len(np.unique(boxes, axis=0)) == len(boxes)
    assert proposals.recall(found, [ex["boxes"] for ex in canvases]) >= 0.9
    quality = proposals.selective_search(canvases[0]["image"], mode="quality")
    assert len(quality) > len(found[0])  # more strategies, more regions
    with pytest.raises(ValueError, match="mode"):
        proposals.selective_search(canvases[0]["image"], mode="slow")


def test_sliding_windows_tile_the_image_at_several_shapes():
    windows = proposals.sliding_windows(100, 200, 300)
    assert 200 <= len(windows) <= 400
    assert (
        np.all(windows[:, :2] >= -1e-4) and np.all(windows[:, 2] <= 200 + 1e-4) and np.all(windows[:, 3] <= 100 + 1e-4)
    )
    ratios = np.unique(np.round((windows[:, 2] - windows[:, 0]) / (windows[:, 3] - windows[:, 1]), 2))
    assert len(ratios) >= 3


def test_regions_get_the_papers_labels_and_scaled_regression_targets():
    truth = np.array([[10, 10, 50, 50]], np.float32)
    props = np.array([[12, 10, 50, 50], [20, 20, 60, 60], [100, 100, 140, 140]], np.float32)
    boxes, labels, regression = label_regions(props, truth, np.array([7]))
    # IoUs with the truth: 1 (itself), 0.95, 0.39, 0 -> labels 8 (class 7 + 1), 8, background, background.
    np.testing.assert_array_equal(labels, [8, 8, 0, 0])
    np.testing.assert_array_equal(regression[:, 0], [7, 7, -1, -1])  # regression needs IoU >= 0.6
    expected = box_ops.encode(boxes[1], truth[0]).numpy() / np.array(TARGET_SCALE)
    np.testing.assert_allclose(regression[1, 1:], expected, rtol=1e-5)


def test_warping_adds_the_papers_context_and_batches_all_regions():
    image = np.zeros((1, 40, 40, 3), np.float32)
    image[0, 10:30, 10:30] = 255.0  # a white square on black
    box = tf.constant([[10.0, 10.0, 30.0, 30.0]])
    # 16 pixels of context at 227: the box grows by 227 / 195 around its centre.
    np.testing.assert_allclose(
        with_context(box, 227, 16).numpy(),
        [[20 - 10 * 227 / 195, 20 - 10 * 227 / 195, 20 + 10 * 227 / 195, 20 + 10 * 227 / 195]],
        rtol=1e-5,
    )
    tight = warp_regions(image, box, [0], 20, padding=0).numpy()[0]
    assert tight.min() > 200  # only the square
    padded = warp_regions(image, box, [0], 20, padding=4).numpy()[0]
    assert padded[0, 0].max() < 60 and padded[10, 10].min() > 200  # a black frame around the square
    many = warp_regions(np.repeat(image, 3, 0), tf.tile(box, [5, 1]), [0, 1, 2, 0, 1], 20, padding=0)
    assert many.shape == (5, 20, 20, 3)


def test_region_stream_mixes_images_of_any_size_with_a_quarter_positives():
    # Two images of different sizes: a white square (class 3) on black, and one with no objects.
    square = np.zeros((60, 80, 3), np.uint8)
    square[10:40, 20:50] = 255
    empty = np.zeros((30, 50, 3), np.uint8)
    examples = [
        {"image": square, "boxes": np.array([[20, 10, 50, 40]], np.float32), "classes": np.array([3])},
        {"image": empty, "boxes": np.zeros((0, 4), np.float32), "classes": np.zeros(0, np.int32)},
    ]
    props = [np.array([[21, 10, 50, 40], [0, 40, 20, 60], [55, 0, 80, 20]], np.float32), np.array([[0, 0, 20, 20]])]
    labelled = labelled_regions(examples, props)
    batches = list(region_dataset([ex["image"] for ex in examples], labelled, 16, 12, 0, seed=0).take(20))
    regions = np.concatenate([r for r, _ in batches])
    labels = np.concatenate([t["scores"] for _, t in batches])
    deltas = np.concatenate([t["deltas"] for _, t in batches])
    assert regions.shape == (320, 12, 12, 3) and regions.dtype == np.float32
    assert set(labels) == {0, 4}  # background and class 3 + 1
    # The square's visits give 8 positives of 32 regions, the empty image's 32 negatives.
    assert 0.06 <= np.mean(labels == 4) <= 0.2
    # A positive's crop is the white square, a background crop (here) all black.
    assert regions[labels == 4].mean() > 200 and regions[labels == 0].mean() < 128
    np.testing.assert_array_equal(deltas[labels == 4, 0], 3)
    again = next(iter(region_dataset([ex["image"] for ex in examples], labelled, 16, 12, 0, seed=0)))
    np.testing.assert_array_equal(again[1]["scores"], batches[0][1]["scores"])  # a seed gives the same stream


def test_regions_scored_in_chunks_equal_one_batch():
    model = RegionCNN(3, region_size=32, dense_units=(16,))
    images = np.random.default_rng(0).uniform(0, 255, (2, 50, 60, 3)).astype(np.float32)
    boxes = tf.constant(proposals.sliding_windows(50, 60, 11))
    indices = tf.constant(np.arange(len(boxes)) % 2, tf.int32)
    whole = score_regions(model, images, boxes, indices, padding=2)
    spec = (tf.TensorSpec([None, 4], tf.float32), tf.TensorSpec([None], tf.int32))
    chunked = tf.function(lambda b, i: score_regions(model, images, b, i, padding=2, chunk=4), input_signature=spec)
    for got, want in zip(chunked(boxes, indices), whole):
        assert got.shape == want.shape
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-5)


def test_detections_each_way_from_one_scoring_equal_detect_with_and_without_regression():
    """The evaluation scores the regions once for the paper's with/without box regression
    comparison: each way's detections are `detect`'s, every score kept (the SVMs' test)
    or above a threshold, with padded proposals."""
    keras_utils = __import__("keras").utils
    keras_utils.set_random_seed(1)
    model = RegionCNN(3, region_size=32, dense_units=(16,))
    images = np.random.default_rng(0).uniform(0, 255, (2, 50, 60, 3)).astype(np.float32)
    windows = proposals.sliding_windows(50, 60, 11)
    boxes, counts = proposals.padded([windows, windows[:7]])
    for threshold in (None, 0.2):
        kwargs = dict(padding=2, score_threshold=threshold, max_detections=5, max_total=12, chunk=4)
        both = detect_each_way(model, images, boxes, counts, regressions=(True, False), **kwargs)
        for regression, got in zip((True, False), both):
            want = detect(model, images, boxes, counts, regression=regression, **kwargs)
            assert sorted(got) == sorted(want)
            for key in want:
                np.testing.assert_allclose(got[key].numpy(), want[key].numpy(), rtol=1e-5, atol=1e-5)
        assert np.any(both[0]["detection_boxes"].numpy() != both[1]["detection_boxes"].numpy())
        # Against the regions scored on their own: each detection is a valid proposal's score for
        # its class, with the proposal's box (clipped), or that box moved by the class's deltas.
        valid = [windows, windows[:7]]
        flat = np.concatenate(valid)
        indices = np.concatenate([np.full(len(v), b, np.int32) for b, v in enumerate(valid)])
        scores, deltas = (t.numpy() for t in score_regions(model, images, flat, indices, padding=2))
        moved = box_ops.decode(flat[:, None, :], deltas * TARGET_SCALE).numpy()
        for regression, got in zip((True, False), both):
            assert int(np.sum(got["num_detections"])) > 0
            for b in range(2):
                for k in range(int(got["num_detections"][b])):
                    cls, score = int(got["detection_classes"][b, k]), float(got["detection_scores"][b, k])
                    assert threshold is None or score >= threshold
                    i = np.flatnonzero(indices == b)[np.argmin(np.abs(scores[indices == b, cls] - score))]
                    assert abs(scores[i, cls] - score) < 1e-5
                    box = moved[i, cls] if regression else flat[i]
                    want_box = box_ops.clip(box, 50, 60).numpy()
                    np.testing.assert_allclose(got["detection_boxes"][b, k].numpy(), want_box, rtol=1e-5, atol=1e-3)


def test_keras_applications_backbones_take_no_weights_or_a_local_weights_file(tmp_path):
    import keras

    from keras_l11.detection.localization import Localizer

    # A local weights file, as a user without Keras' ImageNet download would have one.
    reference = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(64, 64, 3))
    reference.save_weights(tmp_path / "mobilenet_v2.weights.h5")
    from_file = RegionCNN(4, 64, "MobileNetV2", str(tmp_path / "mobilenet_v2.weights.h5"), dense_units=(8,))
    by_name = {w.path: w.numpy() for w in from_file.weights}
    for w in reference.weights:
        np.testing.assert_array_equal(by_name[w.path], w.numpy())
    out = from_file(np.zeros((2, 64, 64, 3), np.float32))
    assert out["scores"].shape == (2, 5) and out["deltas"].shape == (2, 4, 4)

    localizer = Localizer(3, 32, "VGG16", dense_units=(8,))  # weights=None: random, nothing downloaded
    out = localizer(np.zeros((1, 32, 32, 3), np.float32))
    assert out["class_logits"].shape == (1, 3) and out["box"].shape == (1, 4)
    with pytest.raises(ValueError, match="backbone"):
        Localizer(3, 32, "NoSuchNet")


def _squares(count, seed):
    """Dark images with bright squares of class 0 and striped squares of class 1."""
    rng = np.random.default_rng(seed)
    examples = []
    for _ in range(count):
        image = rng.integers(0, 40, (64, 64, 3)).astype(np.uint8)
        boxes, classes = [], []
        for cls in (0, 1):
            x, y = rng.integers(2, 40, 2)
            image[y : y + 20, x : x + 20] = 230 if cls == 0 else np.where(np.arange(20) % 4 < 2, 230, 0)[:, None, None]
            boxes.append([x, y, x + 20, y + 20])
            classes.append(cls)
        examples.append({"image": image, "boxes": np.float32(boxes), "classes": np.int32(classes)})
    return examples


def test_the_svm_stage_mines_hard_negatives_and_scores_regions_with_the_svms():
    """R-CNN's SVMs on fc7 (section 2.3): trained on ground-truth positives and mined
    negatives, they rank a class's boxes above the other regions; the network built
    `with_svms` scores regions exactly as the linear SVMs on its scaled features."""
    from keras_l11.detection import metrics
    from keras_l11.detection.svm import SVMSettings, feature_extractor, train_svms
    from keras_l11.detection.task import detector, run_detector

    keras_utils = __import__("keras").utils
    keras_utils.set_random_seed(0)
    model = RegionCNN(2, region_size=24, dense_units=(32, 32))
    train, test = _squares(12, 0), _squares(6, 1)
    boxes_of = lambda ex: np.concatenate([ex["boxes"], proposals.sliding_windows(64, 64, 60)])  # noqa: E731
    settings = SVMSettings(retrain_limit=50)  # retrains and evictions within a dozen images
    weights, biases, scale = train_svms(model, train, [boxes_of(ex) for ex in train], 2, 24, 2, settings, log=None)
    with_svms = model.with_svms(weights, biases, scale)

    regions = np.random.default_rng(1).uniform(0, 255, (5, 24, 24, 3)).astype(np.float32)
    out = with_svms(regions)
    want = feature_extractor(model)(regions).numpy() * scale @ weights + biases
    np.testing.assert_allclose(out["svm_scores"].numpy(), want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out["scores"].numpy(), model(regions)["scores"].numpy(), rtol=1e-5)

    config = __import__("keras_l11.detection.configs", fromlist=["x"]).RCNN_CONFIGS["smoke"]
    config = __import__("dataclasses").replace(config, region_size=24, context_padding=2)
    [found] = run_detector(detector(with_svms, config, regressions=(False,)), test, [boxes_of(ex) for ex in test])
    svm_map = metrics.mean_average_precision(found, test, 2, 0.5, "voc07")[0]
    assert svm_map > 0.8, svm_map
    # The paper's test keeps 100 detections per class and image, not 100 per image: 256
    # disjoint 4 x 4 boxes (NMS keeps them all) give 100 of each class.
    grid = np.float32([[x, y, x + 4, y + 4] for y in range(0, 64, 4) for x in range(0, 64, 4)])
    [[kept]] = run_detector(detector(with_svms, config, regressions=(False,)), test[:1], [grid])
    assert [int(np.sum(kept["classes"] == c)) for c in (0, 1)] == [100, 100]
