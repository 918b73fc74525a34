"""FCN's bilinear upsampling and alignment, the segmentation and depth measures
and loss, the depth network, and the rendered rooms."""

import keras
import numpy as np
import pytest

from keras_l11.dense import depth_data
from keras_l11.dense.depth import DepthNetwork
from keras_l11.dense.depth_metrics import ScaleInvariantLoss, depth_scores
from keras_l11.dense.fcn import FCN, convolutionalize
from keras_l11.dense.segmentation_metrics import confusion_matrix, segmentation_scores
from keras_l11.dense.upsampling import bilinear_kernel, bilinear_upsampling
from keras_l11.training.transfer import initialize_from


def test_the_kernel_is_the_bilinear_formula():
    for factor, taps in ((2, [0.25, 0.75, 0.75, 0.25]), (3, [1 / 3, 2 / 3, 1, 2 / 3, 1 / 3])):
        np.testing.assert_allclose(bilinear_kernel(factor, 1)[:, :, 0, 0], np.outer(taps, taps), rtol=1e-6)
    k = bilinear_kernel(4, 3)
    taps = 1 - np.abs(np.arange(8) - 3.5) / 4
    assert k.shape == (8, 8, 3, 3)
    for c in range(3):
        np.testing.assert_allclose(k[:, :, c, c], np.outer(taps, taps))
    assert np.all(k[:, :, 0, 1] == 0)  # channels are upsampled apart


@pytest.mark.parametrize("factor", [2, 3, 8, 32])
def test_a_ramp_is_upsampled_exactly_and_pixel_centres_line_up(factor):
    ramp = np.tile(np.arange(10, dtype=np.float32), (10, 1))[None, ..., None]
    out = bilinear_upsampling(factor, 1)(ramp).numpy()[0, :, :, 0]
    assert out.shape == (10 * factor, 10 * factor)
    inner = slice(factor, 9 * factor)  # away from the borders, where the kernel is cut off
    expected = (np.arange(10 * factor) + 0.5) / factor - 0.5  # output pixel centre in feature coordinates
    np.testing.assert_allclose(out[5 * factor, inner], expected[inner], atol=1e-5)
    # A pixel ramp averaged over stride-f cells (what "same" convolutions and poolings see) comes back as the ramp.
    pixels = np.tile(np.arange(8 * factor, dtype=np.float32), (8 * factor, 1))[None, ..., None]
    pooled = keras.layers.AveragePooling2D(factor)(pixels)
    back = bilinear_upsampling(factor, 1)(pooled).numpy()[0, :, :, 0]
    np.testing.assert_allclose(back[4 * factor, factor : 7 * factor], np.arange(factor, 7 * factor), atol=1e-4)


@pytest.mark.parametrize("variant", ["32s", "16s", "8s"])
def test_fcn_outputs_align_with_inputs_of_any_size(variant):
    model = FCN(5, variant, fc_units=16)
    for h, w in ((37, 53), (64, 32), (1, 1)):
        assert model(np.zeros((2, h, w, 3), np.float32)).shape == (2, h, w, 5)
    # The final upsampling stays bilinear; the x2 ones learn.
    final = model.get_layer(f"upscore{variant[:-1]}")
    assert not final.trainable
    np.testing.assert_array_equal(final.kernel.numpy(), bilinear_kernel(int(variant[:-1]), 5))


def test_a_16s_model_starts_from_a_trained_32s_model_with_zero_skip_scores(tmp_path):
    coarse = FCN(4, "32s", fc_units=16)
    coarse.save(tmp_path / "model.keras")
    finer = FCN(4, "16s", fc_units=16, all_at_once=True)
    copied = initialize_from(finer, str(tmp_path))
    assert "score_fr" in copied and "fc6" in copied and "conv5_2" in copied
    np.testing.assert_array_equal(
        finer.get_layer("score_fr").kernel.numpy(), coarse.get_layer("score_fr").kernel.numpy()
    )
    assert not np.any(finer.get_layer("score_pool4").kernel.numpy())
    assert finer.get_layer("scale_pool4").scale == pytest.approx(0.01)
    with pytest.raises(FileNotFoundError, match="model.keras"):
        initialize_from(finer, str(tmp_path / "nothing"))


def test_a_convolutionalized_classifier_gives_the_classifier_outputs_and_slides_over_bigger_images():
    rng = np.random.default_rng(0)
    features = keras.Input((2, 3, 8))
    dense = keras.layers.Dense(5)
    classifier = keras.Model(features, dense(keras.layers.Flatten()(features)))
    conv = keras.layers.Conv2D(5, (2, 3))
    conv.build((None, 2, 3, 8))
    conv.set_weights(convolutionalize(dense, (2, 3, 8)))
    x = rng.normal(size=(4, 2, 3, 8)).astype(np.float32)
    np.testing.assert_allclose(conv(x).numpy()[:, 0, 0], classifier(x).numpy(), rtol=1e-5, atol=1e-5)
    assert conv(rng.normal(size=(1, 6, 9, 8)).astype(np.float32)).shape == (1, 5, 7, 5)  # a map of scores


def test_segmentation_measures_match_a_direct_count_and_keras_mean_iou():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, (3, 20, 20))
    predicted = np.where(rng.random(labels.shape) < 0.7, labels, rng.integers(0, 4, labels.shape))
    labels[0, :2] = 255  # ignored
    scores = segmentation_scores(confusion_matrix(labels, predicted, 4))
    keep = labels != 255
    y, p = labels[keep], predicted[keep]
    ious = [np.sum((y == c) & (p == c)) / np.sum((y == c) | (p == c)) for c in range(4)]
    freq = [np.mean(y == c) for c in range(4)]
    assert scores["pixel_accuracy"] == pytest.approx(np.mean(y == p))
    assert scores["mean_accuracy"] == pytest.approx(np.mean([np.mean(p[y == c] == c) for c in range(4)]))
    assert scores["mean_iu"] == pytest.approx(np.mean(ious))
    assert scores["frequency_weighted_iu"] == pytest.approx(np.dot(freq, ious))
    reference = keras.metrics.MeanIoU(4, ignore_class=255)
    reference.update_state(labels.ravel(), predicted.ravel())
    assert scores["mean_iu"] == pytest.approx(float(reference.result()), rel=1e-5)
    with pytest.raises(ValueError, match="labels"):
        confusion_matrix(np.full((2, 2), 7), np.zeros((2, 2)), 4)


def test_mean_iu_counts_a_class_predicted_but_absent_as_score_py_and_keras_do():
    """Class 2 is predicted on two pixels but in no label: score.py's nanmean over
    IU = n_ii / (t_i + sum_j n_ji - n_ii) counts it as 0 (union 2, not empty)."""
    labels = np.array([0, 0, 1, 1])
    predicted = np.array([0, 0, 2, 2])
    hist = confusion_matrix(labels, predicted, 3)
    with np.errstate(divide="ignore", invalid="ignore"):  # score.py, line for line
        reference = np.nanmean(np.diag(hist) / (hist.sum(1) + hist.sum(0) - np.diag(hist)))
    assert reference == pytest.approx(1 / 3)
    assert segmentation_scores(hist)["mean_iu"] == pytest.approx(reference)
    keras_mean_iou = keras.metrics.MeanIoU(3)
    keras_mean_iou.update_state(labels, predicted)
    assert float(keras_mean_iou.result()) == pytest.approx(reference)
    assert segmentation_scores(hist)["mean_accuracy"] == pytest.approx(0.5)  # over the labels' classes 0 and 1


def test_the_scale_invariant_loss_follows_its_formula_forgives_scale_and_masks_missing_depth():
    rng = np.random.default_rng(1)
    truth = rng.uniform(1, 5, (2, 6, 8)).astype(np.float32)
    log_pred = np.log(truth) + rng.normal(0, 0.2, truth.shape).astype(np.float32)
    d = (log_pred - np.log(truth)).reshape(2, -1)
    n = d.shape[1]
    expected = np.mean(d**2, axis=1) - 0.5 * np.sum(d, axis=1) ** 2 / n**2
    loss = ScaleInvariantLoss(0.5, reduction=None)
    np.testing.assert_allclose(loss(truth, log_pred).numpy(), expected, rtol=1e-5)
    invariant = ScaleInvariantLoss(1.0, reduction=None)
    np.testing.assert_allclose(
        invariant(truth, log_pred + np.log(3.0)).numpy(), invariant(truth, log_pred).numpy(), atol=1e-6
    )
    # With lambda 0.5, scaling the prediction costs half of what plain log-MSE charges.
    shift = np.log(2.0)
    np.testing.assert_allclose(
        loss(truth, log_pred + shift).numpy() - loss(truth, log_pred).numpy(),
        (np.mean((d + shift) ** 2, 1) - np.mean(d**2, 1)) - 0.5 * (np.mean(d + shift, 1) ** 2 - np.mean(d, 1) ** 2),
        rtol=1e-4,
    )
    holes = truth.copy()
    holes[0, :3] = 0.0
    holes[1, 0, 0] = np.nan
    masked = loss(holes, log_pred).numpy()
    keep = (holes[0] > 0).ravel()
    d0 = d[0][keep]
    assert masked[0] == pytest.approx(np.mean(d0**2) - 0.5 * np.mean(d0) ** 2, rel=1e-5)
    assert np.all(np.isfinite(masked))


def test_depth_measures_follow_their_formulas():
    truth = np.array([[[1.0, 2.0], [4.0, 0.0]]])  # the 0 is missing
    predicted = np.array([[[1.2, 1.0], [4.0, 9.0]]])
    s = depth_scores(predicted, truth)
    y, t = np.array([1.2, 1.0, 4.0]), np.array([1.0, 2.0, 4.0])
    assert s["delta<1.25"] == pytest.approx(2 / 3) and s["delta<1.25^2"] == pytest.approx(2 / 3)
    assert s["delta<1.25^3"] == pytest.approx(2 / 3)  # 2 / 1 = 2 > 1.25^3
    assert s["abs_rel"] == pytest.approx(np.mean(np.abs(y - t) / t))
    assert s["sq_rel"] == pytest.approx(np.mean((y - t) ** 2 / t))
    assert s["rmse"] == pytest.approx(np.sqrt(np.mean((y - t) ** 2)))
    assert s["rmse_log"] == pytest.approx(np.sqrt(np.mean(np.log(y / t) ** 2)))
    d = np.log(y / t)
    assert s["rmse_log_scale_invariant"] == pytest.approx(np.sqrt(np.mean(d**2) - np.mean(d) ** 2))
    assert depth_scores(predicted * 3, truth)["rmse_log_scale_invariant"] == pytest.approx(
        s["rmse_log_scale_invariant"]
    )


def test_the_depth_network_has_the_papers_two_stages():
    coarse = DepthNetwork(48, 64, "coarse", fc_units=32)
    assert coarse(np.zeros((2, 48, 64, 3), np.float32)).shape == (2, 12, 16)
    fine = DepthNetwork(48, 64, "fine", fc_units=32)
    assert fine(np.zeros((1, 48, 64, 3), np.float32)).shape == (1, 12, 16)
    frozen = {w.path.split("/")[0] for w in fine.non_trainable_weights}
    assert {"coarse_conv1", "coarse_fc6", "coarse_fc7"} <= frozen
    assert all(w.path.startswith("fine_") for w in fine.trainable_weights)
    # The coarse prediction joins after the fine network's first layer (and its pooling).
    joined = fine.get_layer("fine_with_coarse")
    assert [t.shape[-1] for t in joined.input] == [32, 1]
    with pytest.raises(ValueError, match="multiples of 4"):
        DepthNetwork(50, 64)


def test_the_paper_depth_network_has_eigens_layer_sizes():
    """Eigen et al. 2014, Fig. 1: at 304 x 228, coarse layer 5 pools to 8 x 6 x 256, so
    fc6 has 12,288 x 4,096 weights (about 50 M; a stride-2 first layer without the
    last pooling gave 1.12 billion), and the output is 74 x 55."""
    import dataclasses

    from keras_l11.dense.configs import DEPTH_CONFIGS

    m = DEPTH_CONFIGS["paper"].model
    coarse = DepthNetwork(stage="coarse", **dataclasses.asdict(m))
    assert coarse.output_shape == (None, 55, 74)
    assert tuple(coarse.get_layer("coarse_pool5").output.shape[1:]) == (6, 8, 256)
    layer_sizes = [(11 * 11 * 3, 96), (5 * 5 * 96, 256), (3 * 3 * 256, 384), (3 * 3 * 384, 384), (3 * 3 * 384, 256)]
    layer_sizes += [(6 * 8 * 256, 4096), (4096, 55 * 74)]
    assert coarse.count_params() == sum((fan_in + 1) * units for fan_in, units in layer_sizes) == 70_757_734
    fine = DepthNetwork(stage="fine", **dataclasses.asdict(m))
    assert fine.output_shape == (None, 55, 74)
    fine_sizes = [(9 * 9 * 3, 63), (5 * 5 * 64, 64), (5 * 5 * 64, 1)]  # fine 2 sees 63 maps + the coarse one
    assert sum(int(np.prod(v.shape)) for v in fine.trainable_variables) == sum((a + 1) * b for a, b in fine_sizes)


def test_depth_targets_sample_the_centre_of_each_output_cell():
    from keras_l11.dense.task import at_output_size

    depth = np.arange(228 * 304, dtype=np.float32).reshape(1, 228, 304)
    np.testing.assert_array_equal(at_output_size(depth[:, :48, :64], (12, 16)), depth[:, :48:, :64][:, 2::4, 2::4])
    sampled = at_output_size(depth, (55, 74))
    assert sampled.shape == (1, 55, 74)
    assert sampled[0, 0, 0] == depth[0, 2, 2]
    assert sampled[0, -1, -1] == depth[0, int(54.5 * 228 / 55), int(73.5 * 304 / 74)]


def test_grouped_alexnet_kernels_load_as_the_same_convolution(tmp_path):
    """AlexNet's two-group conv2 (5 x 5 x 48 x 256) set block-diagonally into a full
    5 x 5 x 96 x 256 convolution computes the same as the two groups."""
    import tensorflow as tf

    from keras_l11.dense.depth import load_coarse_weights

    net = DepthNetwork(48, 64, "coarse", (8, 6), (5, 3), fc_units=8)
    rng = np.random.default_rng(0)
    grouped = rng.normal(size=(3, 3, 4, 6)).astype("float32")
    bias = rng.normal(size=6).astype("float32")
    np.savez(tmp_path / "alexnet.npz", **{"coarse_conv2/kernel": grouped, "coarse_conv2/bias": bias})
    assert load_coarse_weights(net, str(tmp_path / "alexnet.npz")) == ["coarse_conv2"]
    x = rng.normal(size=(1, 7, 7, 8)).astype("float32")
    full = tf.nn.conv2d(x, net.get_layer("coarse_conv2").kernel, 1, "SAME").numpy()
    halves = [tf.nn.conv2d(x[..., 4 * g : 4 * g + 4], grouped[..., 3 * g : 3 * g + 3], 1, "SAME") for g in (0, 1)]
    np.testing.assert_allclose(full, np.concatenate(halves, -1), rtol=1e-5, atol=1e-5)
    np.savez(tmp_path / "wrong.npz", **{"coarse_conv1/kernel": grouped, "coarse_conv1/bias": bias})
    with pytest.raises(ValueError, match="coarse_conv1"):
        load_coarse_weights(net, str(tmp_path / "wrong.npz"))


def test_nyu_frames_are_halved_and_centre_cropped_as_eigen_et_al():
    """A 640 x 480 frame whose pixels encode their coordinates, through the TFDS
    reader: the 304 x 228 centre of the halved frame, depth from every other pixel."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    rows, cols = np.meshgrid(np.arange(480), np.arange(640), indexing="ij")
    depth = (rows * 1000 + cols).astype(np.float32) / 1000  # exact in float32
    image = np.stack([rows % 256, cols % 256, np.zeros_like(rows)], -1).astype(np.uint8)

    def frames(builder, split, **kwargs):
        return tf.data.Dataset.from_tensors({"image": image, "depth": depth.astype(np.float16)})

    with tfds.testing.mock_data(as_dataset_fn=frames, policy=tfds.testing.MockPolicy.USE_CODE):
        [example] = depth_data.nyu_depth_v2("train", 304, 228)
    assert example["image"].shape == (228, 304, 3) and example["depth"].shape == (228, 304)
    want = depth.astype(np.float16).astype(np.float32)[::2, ::2][6 : 6 + 228, 8 : 8 + 304]
    np.testing.assert_array_equal(example["depth"], want)
    # The halved image's pixel (r, c) averages rows 2r, 2r+1: its red is about 2r + 0.5 (mod 256).
    assert abs(int(example["image"][10, 0, 0]) - (2 * (10 + 6) + 0.5)) <= 1
    assert abs(int(example["image"][0, 10, 1]) - (2 * (10 + 8) + 0.5)) <= 1


def test_rendered_rooms_have_exact_floor_depth_and_holes():
    rng = np.random.default_rng(3)
    scenes = [depth_data.render_scene(rng, 64, 48) for _ in range(8)]
    for s in scenes:
        assert s["image"].shape == (48, 64, 3) and s["image"].dtype == np.uint8 and s["depth"].dtype == np.float32
        assert np.all(np.isfinite(s["depth"])) and np.all(s["depth"] >= 0)
    assert any(np.any(s["depth"] == 0) for s in scenes)  # missing depth somewhere
    # Where the floor is the nearest surface, depth = camera height / the ray's downward slope.
    rays = depth_data._rays(64, 48)
    floor = depth_data._plane(rays, 1, -depth_data.CAMERA_HEIGHT)
    bottom = scenes[0]["depth"][-1]
    on_floor = np.isclose(bottom, floor[-1], rtol=1e-5)
    assert on_floor.sum() > 0
    np.testing.assert_allclose(floor[-1], depth_data.CAMERA_HEIGHT / -rays[-1, :, 1], rtol=1e-6)
    left, disparity = depth_data.stereo_motorcycle()
    assert left.shape[:2] == disparity.shape and np.isfinite(disparity).mean() > 0.8


def test_voc2012_reads_the_devkits_own_train_and_val_lists(tmp_path):
    """`data=voc2012`: a VOC 2012 devkit's `ImageSets/Segmentation/{train,val}.txt`,
    JPEG images and palette PNGs, each image at its own size; a folder that is not a
    devkit is named in the error."""
    import dataclasses

    from benchmarks import paper_data
    from keras_l11.dense.configs import FCN_CONFIGS
    from keras_l11.dense.task import load_segmentation

    sizes = {"2007_000033": (366, 500), "2009_000123": (500, 375), "2011_003271": (333, 500)}
    splits = {"train": ["2009_000123", "2007_000033"], "val": ["2011_003271"]}
    masks = paper_data.write_voc_devkit(str(tmp_path / "VOC2012"), splits, sizes)
    config = dataclasses.replace(FCN_CONFIGS["small"], data="voc2012")
    train, val, names = load_segmentation(config, str(tmp_path / "VOC2012"))
    assert train.names == splits["train"] and val.names == splits["val"] and len(names) == 21
    image, mask = train[0]
    assert image.shape == (500, 375, 3)
    np.testing.assert_array_equal(mask, masks["2009_000123"])  # palette indices, the 255 boundary kept
    with pytest.raises(FileNotFoundError, match="VOC2012 devkit"):
        load_segmentation(config, str(tmp_path))


def test_the_fcn_paper_splits_read_sbd_and_voc2011_at_each_images_size(tmp_path):
    """SBD's .mat masks for training; VOC 2011 val less SBD's training images for
    scoring (the paper's seg11valid), every image at its own size."""
    from benchmarks import paper_data
    from keras_l11.dense import segmentation_data as seg_data
    from keras_l11.dense.task import evaluate_segmentation, segmentation_dataset

    sizes = {"2007_000032": (281, 500), "2007_000039": (375, 500), "2008_000002": (500, 333), "2011_000003": (338, 500)}
    sbd = paper_data.write_sbd(str(tmp_path / "sbd"), ["2007_000032", "2008_000002"], sizes)
    voc = paper_data.write_voc_devkit(
        str(tmp_path / "VOC2011"), {"val": ["2007_000032", "2007_000039", "2011_000003"]}, sizes
    )
    train, val = seg_data.fcn_paper_splits(str(tmp_path / "VOC2011"), str(tmp_path / "sbd"))
    assert train.names == ["2007_000032", "2008_000002"] and val.names == ["2007_000039", "2011_000003"]
    image, mask = train[1]
    assert image.shape == (500, 333, 3) and mask.dtype == np.uint8
    np.testing.assert_array_equal(mask, sbd["2008_000002"])
    image, mask = val[0]
    assert image.shape == (375, 500, 3)
    np.testing.assert_array_equal(mask, voc["2007_000039"])  # palette indices, 255 kept

    images, masks = next(iter(segmentation_dataset(train, 2, shuffle_seed=None, size=500)))
    assert images.shape == (2, 500, 500, 3) and masks.shape == (2, 500, 500)
    np.testing.assert_array_equal(masks[0, :281, :500], sbd["2007_000032"])
    assert np.all(masks[0, 281:] == 255)  # the padding is ignored by the loss

    scores, shown = evaluate_segmentation(keras.Sequential([keras.Input((None, None, 3)), ClassOne()]), val, 21)
    want = segmentation_scores(
        sum(confusion_matrix(voc[n], np.ones_like(voc[n]), 21) for n in ("2007_000039", "2011_000003"))
    )
    assert scores["mean_iu"] == pytest.approx(want["mean_iu"]) and scores["images"] == 2
    assert [p.shape for p in shown[1]] == [(375, 500), (338, 500)]


class ClassOne(keras.layers.Layer):
    """Logits that say "class 1" everywhere, at the input's own size."""

    def call(self, images):
        return keras.ops.one_hot(keras.ops.ones(keras.ops.shape(images)[:3], "int32"), 21)
