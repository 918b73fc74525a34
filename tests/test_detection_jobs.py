"""The R-CNN job beats chance, and its export detects digits in image bytes over the local server."""

import base64
import re

import numpy as np
import pytest
from PIL import Image
from serving_helpers import http, png, start_server

from keras_l11.detection import data as det_data
from keras_l11.detection import proposals
from keras_l11.serving.client import Client

from conftest import smoke_job


@pytest.fixture(scope="session")
def rcnn_export(tmp_path_factory):
    out = tmp_path_factory.mktemp("rcnn")
    return {"dir": out, "summary": smoke_job("rcnn", out, "rcnn"), "config": out / "serving" / "models.config"}


def test_rcnn_beats_a_chance_detector(rcnn_export):
    ev = rcnn_export["summary"]["evaluation"]
    assert ev["with_regression"]["voc07_map_50"] > ev["chance_voc07_map_50"] + 0.1, ev
    assert ev["proposal_recall_50"] > 0.9 and ev["proposals_per_image"] > 100


@pytest.fixture(scope="module")
def server(rcnn_export, tmp_path_factory):
    running = start_server(
        [f"--model_config_file={rcnn_export['config']}"],
        tmp_path_factory.mktemp("rcnn_server"),
        cwd=str(rcnn_export["dir"]),
    )
    yield running
    assert running.stop() == 0, running.log()[-2000:]


def test_detections_from_image_bytes_and_client_proposals_over_rest_and_grpc(server):
    example = det_data.digit_canvases(1, "test", seed=42, size=128)[0]
    boxes = proposals.selective_search(example["image"])
    url = f"{server.url}/v1/models/rcnn:predict"
    inputs = {
        "images": [{"b64": base64.b64encode(png(example["image"])).decode()}],
        "proposals": [boxes.tolist()],
        "num_proposals": [len(boxes)],
    }
    status, body = http("POST", url, {"signature_name": "detect", "inputs": inputs})
    assert status == 200, body
    out = body["outputs"]
    n = out["num_detections"][0]
    assert 0 < n <= 100
    detected = np.asarray(out["detection_boxes"][0][:n])
    assert np.all(detected[:, 2:] >= detected[:, :2]) and np.all(detected >= 0) and np.all(detected <= 128)
    scores = np.asarray(out["detection_scores"][0][:n])
    assert np.all(np.diff(scores) <= 1e-6) and np.all((scores > 0) & (scores <= 1))
    assert set(out["detection_classes"][0][:n]) <= set(range(10))
    with Client(server.grpc, "grpc") as client:
        windows = client.predict(
            "rcnn", {"images": np.array([png(example["image"])], dtype=object)}, signature_name="detect_windows"
        )
    assert windows["detection_boxes"].shape[0] == 1 and windows["num_detections"][0] >= 0


def test_the_detect_command_gives_the_saved_models_detections_over_rest_and_grpc(server, rcnn_export, tmp_path, capsys):
    from keras_l11.detection import client as detect_command

    example = det_data.digit_canvases(1, "test", seed=42, size=128)[0]
    image = tmp_path / "canvas.png"
    image.write_bytes(png(example["image"]))
    common = ["--model", "rcnn", "--min_score", "0", str(image)]
    saved = str(rcnn_export["dir"] / "saved_models" / "rcnn")
    direct = detect_command.main(["--saved_model", saved, *common, "--out", str(tmp_path / "found.png")])
    over_rest = detect_command.main(["--server", server.rest, *common])
    over_grpc = detect_command.main(["--server", server.grpc, "--protocol", "grpc", *common])
    assert len(direct[0]["scores"]) > 0
    for found in (over_rest, over_grpc):
        for key in ("boxes", "scores", "classes"):
            np.testing.assert_array_equal(found[0][key], direct[0][key])
    printed = capsys.readouterr().out.splitlines()
    assert sum(line.startswith(str(image)) for line in printed) == 3 * len(direct[0]["scores"])
    assert Image.open(tmp_path / "found.png").size[0] > 100
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("hello")
    with pytest.raises(SystemExit, match="not an image"):
        detect_command.main(["--server", server.rest, "--model", "rcnn", str(not_an_image)])


def test_bytes_that_are_not_an_image_are_refused(server):
    url = f"{server.url}/v1/models/rcnn:predict"
    body = {
        "signature_name": "detect_windows",
        "inputs": {"images": [{"b64": base64.b64encode(b"not an image").decode()}]},
    }
    status, answer = http("POST", url, body)
    assert status == 400 and "image" in answer["error"].lower(), answer
    assert http("GET", f"{server.url}/v1/models/rcnn")[0] == 200


def fake_voc(canvases):
    """TFDS's `voc/2007` (any split) as `canvases` in VOC's format: boxes as
    fractions, labels, difficult flags; a slice `split[a:b]` (what the
    proposals pipeline's workers read) gives those canvases, and images that
    the reader asks not to decode (`SkipDecoding`) come as PNG bytes, as TFDS
    stores them."""

    def as_dataset(builder, split, decoders=None, **kwargs):
        bounds = re.fullmatch(r"[\w+]+\[(\d*):(\d*)\]", str(split))
        picked = slice(*(int(b) if b else None for b in bounds.groups())) if bounds else slice(None)
        return _voc_dataset(canvases[picked], encoded="image" in (decoders or {}))

    return as_dataset


def _voc_dataset(canvases, encoded=False):
    from benchmarks.paper_data import voc_tfds_dataset

    examples = []
    for c in canvases:
        x1, y1, x2, y2 = (c["boxes"] / 96).T
        examples.append(
            {
                "image": c["image"],
                "bbox": np.stack([y1, x1, y2, x2], axis=1),
                "label": c["classes"],
                "is_difficult": np.arange(len(c["classes"])) == 1,  # every second object
            }
        )
    return voc_tfds_dataset(examples, encoded)


def test_the_paper_config_path_reads_voc_through_tfds_and_scores_regions_in_chunks(tmp_path, monkeypatch):
    import dataclasses

    import tensorflow_datasets as tfds

    import train.rcnn as job

    paper_like = dataclasses.replace(job.RCNN_CONFIGS["smoke"], data="voc2007", region_chunk=64, steps_per_epoch=10)
    monkeypatch.setitem(job.RCNN_CONFIGS, "smoke", paper_like)
    canvases = det_data.digit_canvases(6, "train", seed=5, size=96, digit_sizes=(28, 48))
    monkeypatch.setenv("KERAS_L11_CACHE", str(tmp_path / "data"))  # proposals prepared apart
    monkeypatch.setenv("KERAS_L11_PIPELINE_ARGS", "--direct_num_workers=1")  # in this process, where the mock is
    with tfds.testing.mock_data(as_dataset_fn=fake_voc(canvases), policy=tfds.testing.MockPolicy.USE_CODE):
        summary = smoke_job("rcnn", tmp_path, "voc", "--steps", "10")
    ev = summary["evaluation"]
    assert ev["proposals_per_image"] > 50 and ev["proposal_recall_50"] > 0.5, ev
    # The export scores its regions in chunks of 64 inside the graph, and names VOC's 20 classes.
    import tensorflow as tf

    [saved] = (tmp_path / "saved_models" / "rcnn").glob("*/saved_model.pb")
    found = tf.saved_model.load(str(saved.parent)).signatures["detect_windows"](
        images=tf.constant([png(canvases[0]["image"])])
    )
    assert found["detection_boxes"].shape[-1] == 4 and found["num_detections"].shape == (1,)
    assert set(found["detection_classes"].numpy()[0][: int(found["num_detections"][0])]) <= set(range(20))


@pytest.fixture(scope="session")
def localization_export(tmp_path_factory):
    out = tmp_path_factory.mktemp("localization")
    return {"dir": out, "summary": smoke_job("localization", out, "localization")}


def test_localization_beats_the_majority_class_and_mean_box(localization_export):
    ev = localization_export["summary"]["evaluation"]
    assert ev["accuracy"] > ev["baseline_accuracy"] + 0.3, ev
    assert ev["mean_iou"] > ev["baseline_mean_iou"] + 0.1, ev
    assert ev["correct_localization"] > ev["baseline_correct_localization"] + 0.2, ev


def test_localize_signature_answers_in_the_pixels_of_each_image(localization_export):
    import tensorflow as tf

    from keras_l11.serving.sources import latest_version

    path = latest_version(str(localization_export["dir"] / "saved_models" / "localization"))
    localize = tf.saved_model.load(path).signatures["localize"]
    example = det_data.digit_canvases(1, "test", seed=5, size=64, num_digits=(1, 1), digit_sizes=(32, 56))[0]
    big = np.asarray(Image.fromarray(example["image"]).resize((128, 128), Image.BILINEAR))
    out = localize(images=tf.constant([png(example["image"]), png(big)]))
    assert out["classes"].shape == (2,) and out["probabilities"].shape == (2, 10)
    np.testing.assert_allclose(out["probabilities"].numpy().sum(-1), 1.0, rtol=1e-5)
    boxes = out["boxes"].numpy()
    # The same picture twice as large: the box in its pixels is about twice as large.
    np.testing.assert_allclose(boxes[1], 2 * boxes[0], atol=6.0)
