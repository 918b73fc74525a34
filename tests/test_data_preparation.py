"""The data-preparation pipelines (Apache Beam): selective-search proposals and
optical flow on Beam's local runner, equal to one process's results, with
corrupt inputs reported and skipped, killed runs resumed, and the jobs'
readers."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from keras_l11.data import install

IMAGE_SIZE = 96


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    """Eight generated canvases as PNG and JPEG files, a truncated JPEG and an empty PNG."""
    import cv2

    from keras_l11.data.mnist import digit_canvases

    folder = tmp_path_factory.mktemp("images")
    (folder / "more").mkdir()
    for i, ex in enumerate(digit_canvases(8, "test", seed=5, size=IMAGE_SIZE)):
        where = folder / ("more" if i % 2 else "") / f"canvas{i}.{'png' if i < 4 else 'jpg'}"
        cv2.imwrite(str(where), ex["image"][..., ::-1])
    good = (folder / "canvas4.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(good[: len(good) // 3][:40])
    (folder / "empty.png").write_bytes(b"")
    return folder


def _read_rgb(path):
    import cv2

    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def _prepared(folder):
    (made,) = [p for p in folder.iterdir() if p.is_dir()]
    return made / "1.0.0"


def test_proposals_on_two_local_workers_equal_one_process_and_corrupt_images_are_skipped(image_folder, tmp_path):
    import tensorflow_datasets as tfds

    from keras_l11.data import item_sources
    from keras_l11.data.prepared_records import PreparedSplit
    from keras_l11.detection import prepare
    from keras_l11.detection.proposals import selective_search

    out = tmp_path / "out"
    args = ["--data", str(image_folder), "--output", str(out), "--items_per_shard", "3", "--direct_num_workers=2"]
    prepare.main(args)
    folder = _prepared(out)
    report = json.loads((folder / "report.json").read_text())
    errors = {s["id"]: s["error"] for s in report["skipped"]}
    assert sorted(errors) == ["empty.png", "truncated.jpg"]
    assert errors["empty.png"].endswith("empty.png: an empty file")
    assert errors["truncated.jpg"].endswith("truncated.jpg: not an image OpenCV can decode (40 bytes)")
    assert report["records"] == 8 and report["shards_written"] == 4
    workers = {json.loads(p.read_text())["worker"] for p in (folder / "shards").iterdir()}
    assert len(workers) == 2 and os.getpid() not in workers  # two worker processes did the work
    records = PreparedSplit(str(folder), "train")
    assert len(records) == 8
    for record in records.records(range(len(records))):
        image = _read_rgb(image_folder / record["id"].decode())
        np.testing.assert_array_equal(record["boxes"], selective_search(image))  # same seed, same boxes
        assert record["image_sha1"].decode() == prepare.image_sha1(image)
    # TFDS reads the same folder (ArrayRecord: as a random-access data source).
    builder = tfds.builder_from_directory(str(folder))
    assert builder.info.splits["train"].num_examples == 8
    np.testing.assert_array_equal(builder.as_data_source("train")[5]["boxes"], records[5]["boxes"])

    # Quality mode, from images staged in memory (as the offline sets are).
    few = [_read_rgb(image_folder / n) for n in ("canvas0.png", "canvas2.png")]
    staged = item_sources.stage_arrays(str(tmp_path / "few.array_record"), few)
    folder, _ = prepare.run("few", {"train": staged}, mode="quality", root=str(tmp_path / "q"))
    for image, record in zip(few, PreparedSplit(folder, "train").records([0, 1])):
        np.testing.assert_array_equal(record["boxes"], selective_search(image, mode="quality"))


def _image_source(folder, count):
    """The first `count` good images of `folder`, staged as an in-memory set would be."""
    from keras_l11.data import item_sources

    names = sorted(p for p in os.listdir(folder) if p.startswith("canvas"))[:count]
    return item_sources.stage_arrays(
        str(folder.parent / f"staged-{count}.array_record"), [_read_rgb(folder / n) for n in names]
    )


def test_a_killed_run_resumes_without_redoing_finished_shards(tmp_path):
    """The command is killed (SIGKILL, its whole process group) once it has
    written some shards; started again, it leaves those files alone, writes
    the rest, and every image's boxes are one process's."""
    import cv2

    from keras_l11.data.mnist import digit_canvases
    from keras_l11.data.prepared_records import PreparedSplit
    from keras_l11.detection import prepare
    from keras_l11.detection.proposals import selective_search

    images = tmp_path / "canvases"
    images.mkdir()
    canvases = [ex["image"] for ex in digit_canvases(8, "train", seed=6)]  # 192 x 192: about 0.5 s each, quality
    for i, image in enumerate(canvases):
        cv2.imwrite(str(images / f"c{i}.png"), image[..., ::-1])
    out = tmp_path / "out"
    command = [sys.executable, "-m", "keras_l11.detection.prepare", "--data", str(images), "--output", str(out)]
    command += ["--items_per_shard", "1", "--mode", "quality", "--direct_num_workers=1"]
    proc = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    made = out / "proposals_canvases_train_quality_2000" / "1.0.0"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and len(list(made.glob("shards/*.json"))) < 3:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = sorted(p.name for p in made.glob("shards/*.json"))
    assert 3 <= len(done) < 8, f"the run was to be killed half-way; it had written {len(done)} of 8 shards"
    written = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in made.glob("*.array_record-*")}

    source = {"train": _folder_source(images)}
    folder, report = prepare.run("canvases_train", source, mode="quality", root=str(out), items_per_shard=1)
    assert report["shards_done_before"] == len(done) and report["shards_written"] == 8 - len(done)
    for name, (inode, mtime) in written.items():
        if ".part-" not in name:  # a finished shard's file: not written again
            assert (made / name).stat().st_ino == inode and (made / name).stat().st_mtime_ns == mtime
    assert not list(made.glob("*.part-*"))  # what the killed run was writing is gone
    records = PreparedSplit(folder, "train")
    assert [r["id"].decode() for r in records.records(range(8))] == [f"c{i}.png" for i in range(8)]
    for i, record in enumerate(records.records(range(8))):
        np.testing.assert_array_equal(record["boxes"], selective_search(canvases[i], mode="quality"))


def test_processes_that_ask_for_one_data_set_at_once_make_it_once(image_folder, tmp_path):
    """What the processes of a multi-worker job do: both start the same
    preparation; one makes it, the other waits and reads it."""
    out = tmp_path / "out"
    command = [sys.executable, "-m", "keras_l11.detection.prepare", "--data", str(image_folder), "--output", str(out)]
    command += ["--items_per_shard", "2", "--direct_num_workers=1"]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) for _ in range(2)]
    lines = sorted(proc.communicate(timeout=300)[0].strip().splitlines()[-1] for proc in procs)
    assert all(proc.returncode == 0 for proc in procs)
    assert lines[0].endswith("0 shards written now, 5 before") and lines[1].endswith("5 shards written now, 0 before")


def _folder_source(folder):
    from keras_l11.data import item_sources

    return item_sources.FolderSource(str(folder), item_sources.IMAGE_PATTERNS)


@pytest.mark.skipif(
    not os.path.exists(install.VTEST_VIDEO), reason="OpenCV's vtest.avi: python -m keras_l11.data.install"
)
@pytest.mark.parametrize("method", ["farneback", "tvl1"])
def test_flow_of_a_real_video_equals_one_process_and_a_corrupt_video_is_skipped(method, tmp_path):
    from keras_l11.video import prepare
    from keras_l11.video.data import read_video
    from keras_l11.video.flow import video_flows

    videos = tmp_path / "videos"
    (videos / "pedestrians").mkdir(parents=True)
    (videos / "broken").mkdir()
    os.symlink(install.VTEST_VIDEO, videos / "pedestrians" / "vtest.avi")
    (videos / "broken" / "noise.avi").write_bytes(np.random.default_rng(0).bytes(20000))
    out = tmp_path / "out"
    prepare.main(
        ["--data", str(videos), "--frames", "5", "--height", "72", "--width", "96", "--method", method]
        + ["--output", str(out)]
    )
    folder = out / f"flows_videos_train_5x72x96_{method}" / "1.0.0"
    report = json.loads((folder / "report.json").read_text())
    assert [s["id"] for s in report["skipped"]] == [os.path.join("broken", "noise.avi")]
    assert "no frames could be read" in report["skipped"][0]["error"]
    videos_set = prepare.video_set(str(folder), "train")
    assert len(videos_set) == 1 and videos_set.class_names == ("broken", "pedestrians")
    assert videos_set.labels.tolist() == [1]
    clip = prepare.central_frames(read_video(install.VTEST_VIDEO), 5, 72, 96)  # every frame decoded, then cut
    np.testing.assert_array_equal(videos_set.frames[0], clip)
    np.testing.assert_array_equal(videos_set.flows[0], video_flows(clip, method).astype(np.float16))


def test_the_offline_video_sets_come_from_the_pipeline_and_are_read_a_video_at_a_time(tmp_path, monkeypatch):
    from keras_l11.video import prepare
    from keras_l11.video.data import CLASS_NAMES, moving_digit_clips
    from keras_l11.video.flow import video_flows

    monkeypatch.setenv("KERAS_L11_CACHE", str(tmp_path))
    videos = prepare.moving_digit_set(6, "test", seed=4, frames=5, size=48, pipeline_args=["--direct_num_workers=2"])
    clips, labels = moving_digit_clips(6, "test", 4, 5, 48)
    assert videos.frames.shape == (6, 5, 48, 48, 3) and videos.flows.shape == (6, 4, 48, 48, 2)
    assert videos.class_names == CLASS_NAMES and videos.labels.tolist() == labels.tolist()
    np.testing.assert_array_equal(videos.frames, clips)  # a small set: loaded into memory
    np.testing.assert_array_equal(videos.flows[3], video_flows(clips[3]).astype(np.float16))
    folder = tmp_path / "prepared" / "flows_digits_test_6_4_5x48x48_farneback" / "1.0.0"
    # A set too large for memory is read from the records, only what an index touches.
    lazy = prepare.video_set(str(folder), "test", load_below=0)
    assert lazy.frames.shape == videos.frames.shape and lazy.flows.shape == videos.flows.shape
    for index in (2, -1, (2, slice(1, 3)), (slice(1, 5, 2), 3), ([4, 1], slice(0, 2), 7), (5, -1, 0, 0, 1)):
        np.testing.assert_array_equal(lazy.frames[index], videos.frames[index])
        np.testing.assert_array_equal(lazy.flows[index], videos.flows[index])
    windows = np.stack([videos.flows[4, 1:3], videos.flows[0, 2:4]])  # a training batch: item, start
    np.testing.assert_array_equal(lazy.flows.windows([4, 0], [1, 2], 2), windows)
    with pytest.raises(IndexError):
        lazy.flows.windows([0], [3], 2)  # past the last of 4 flows
    assert not list((tmp_path / "prepared" / "inputs").iterdir())  # the staged clips, gone once made
    shards = sorted((folder / "shards").iterdir())
    again = prepare.moving_digit_set(6, "test", seed=4, frames=5, size=48)  # read, not made again
    assert sorted((folder / "shards").iterdir()) == shards and len(again) == 6


def test_detection_jobs_read_the_proposals_pipelines_output(tmp_path, monkeypatch):
    from keras_l11.data.mnist import digit_canvases
    from keras_l11.detection import prepare
    from keras_l11.detection.proposals import selective_search

    monkeypatch.setenv("KERAS_L11_CACHE", str(tmp_path))
    (tmp_path / "proposals").mkdir()  # the cache the pipeline replaced
    (tmp_path / "proposals" / "digits-train-fast-2000-0123456789ab.npz").write_bytes(b"old")
    train, test = digit_canvases(3, "train", seed=0, size=96), digit_canvases(2, "test", seed=1, size=96)
    found = prepare.proposals_for("digits", {"train": train, "test": test}, pipeline_args=["--direct_num_workers=1"])
    for examples, boxes in ((train, found["train"]), (test, found["test"])):
        assert len(boxes) == len(examples)
        for ex, b in zip(examples, boxes):
            np.testing.assert_array_equal(b, selective_search(ex["image"]))
    [folder] = (tmp_path / "prepared").glob("proposals_digits_*")
    assert not (tmp_path / "proposals").exists()  # the old cache is gone
    made = {p.name: p.stat().st_mtime_ns for p in folder.glob("1.0.0/*")}
    again = prepare.proposals_for("digits", {"train": train, "test": test})  # read, not made again
    assert {p.name: p.stat().st_mtime_ns for p in folder.glob("1.0.0/*")} == made
    np.testing.assert_array_equal(again["test"][1], found["test"][1])
    # Records made for other images are refused, not silently paired with the job's.
    other = digit_canvases(2, "test", seed=9, size=96)
    with pytest.raises(ValueError, match="other images"):
        prepare.read_proposals(str(folder / "1.0.0"), "test", other)
    assert len(list((tmp_path / "prepared").glob("proposals_digits_*"))) == 1


def test_a_tfds_data_set_is_read_by_the_workers_and_its_corrupt_images_skipped(tmp_path):
    """A TFDS data set on disk (TFRecord, TFDS's metadata), one of its images corrupt."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    from keras_l11.data import item_sources
    from keras_l11.data.mnist import digit_canvases
    from keras_l11.data.prepared_records import PreparedSplit
    from keras_l11.detection import prepare
    from keras_l11.detection.proposals import selective_search

    features = tfds.features.FeaturesDict({"image": tfds.features.Image(shape=(None, None, 3))})
    folder = tmp_path / "tfds" / "tiny_images" / "1.0.0"
    folder.mkdir(parents=True)
    images = [ex["image"] for ex in digit_canvases(4, "test", seed=2, size=96)]
    with tf.io.TFRecordWriter(str(folder / "tiny_images-test.tfrecord-00000-of-00001")) as writer:
        for k, image in enumerate(images):
            encoded = features.serialize_example({"image": image})
            if k == 2:  # the same record with its PNG cut short
                example = tf.train.Example.FromString(encoded)
                png = example.features.feature["image"].bytes_list.value[0]
                example.features.feature["image"].bytes_list.value[0] = png[:30]
                encoded = example.SerializeToString()
            writer.write(encoded)
    split = tfds.core.SplitInfo(name="test", shard_lengths=[4], num_bytes=0)
    tfds.folder_dataset.write_metadata(data_dir=str(folder), features=features, split_infos=[split], check_data=False)

    source = item_sources.TfdsSource("tiny_images", "test", data_dir=str(tmp_path / "tfds"), image_key="image")
    assert source.count() == 4
    out, report = prepare.run("tiny", {"test": source}, root=str(tmp_path / "out"), items_per_shard=2)
    assert [(s["id"], s["index"]) for s in report["skipped"]] == [("test/2", 2)]
    records = PreparedSplit(out, "test")
    assert [int(r["index"]) for r in records.records(range(3))] == [0, 1, 3]
    np.testing.assert_array_equal(records[2]["boxes"], selective_search(images[3]))


def test_pipeline_options_use_every_core_locally_and_pass_anything_else_to_the_runner():
    from keras_l11.data.beam_options import command_parser, parse_command, pipeline_options

    local = pipeline_options([], pending=40).get_all_options()
    assert local["runner"] == "DirectRunner" and local["direct_running_mode"] == "multi_processing"
    assert local["direct_num_workers"] == os.cpu_count()
    assert pipeline_options([], pending=1).get_all_options()["direct_running_mode"] == "in_memory"
    flink = ["--runner", "FlinkRunner", "--flink_master=host:8081", "--parallelism", "16"]
    options = pipeline_options(flink, pending=40).get_all_options()
    assert (
        options["runner"] == "FlinkRunner" and options["flink_master"] == "host:8081" and options["parallelism"] == 16
    )
    assert options["direct_running_mode"] == "in_memory"  # Beam's default: nothing of ours added
    parser = command_parser("prepare", "", 8, "images")
    parser.add_argument("--data")
    args, rest = parse_command(parser, ["--data", "x", "--runner", "DataflowRunner", "--project=p", "--region", "r"])
    assert args.data == "x" and rest == ["--runner", "DataflowRunner", "--project=p", "--region", "r"]
    with pytest.raises(SystemExit):
        parse_command(parser, ["--data", "x", "stray"])


def test_a_folder_made_with_other_settings_or_other_inputs_is_refused(image_folder, tmp_path):
    from keras_l11.detection import prepare

    source = _image_source(image_folder, 2)
    prepare.run("few", {"train": source}, root=str(tmp_path), items_per_shard=1)
    with pytest.raises(ValueError, match=r"other settings \(items: \{'train': 2\} there, \{'train': 3\} now"):
        prepare.run("few", {"train": _image_source(image_folder, 3)}, root=str(tmp_path), items_per_shard=1)


def test_a_run_where_every_input_fails_is_an_error_not_an_empty_data_set(tmp_path):
    from keras_l11.detection import prepare

    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "a.png").write_bytes(b"not a png")
    with pytest.raises(
        SystemExit, match=r"every one of 1 images failed \(the first, a.png: ValueError: .*a.png: not an"
    ):
        prepare.main(["--data", str(tmp_path / "broken"), "--output", str(tmp_path / "out")])
