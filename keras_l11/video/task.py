"""What the video jobs share: their data, training windows sampled from a
`VideoSet`, the test protocol, accuracies, training one window model, and
starting a fusion step.

A model reads a *window* of a video: `span` consecutive frames (a single frame
for the spatial stream, T frames for LRCN and the fusion models) or `span`
consecutive flows (L = 10 for the temporal stream). Training samples a random
window of a random video. The test protocol (two-stream: 25 windows; Karpathy
et al.: 20 clips) classifies `count` evenly spaced windows of each video and
averages their class probabilities: "clip" accuracy is that of single
windows, "video" accuracy that of the average. The exported signatures
(`keras_l11.video.export`) take whole videos and run the same protocol in the
graph, so served answers and reported figures come from one function.
"""

import dataclasses
import os
import sys

import numpy as np
import tensorflow as tf

from keras_l11.video import data as video_data


def load_videos(config):
    """`(train, validation, test)` `VideoSet`s of the config's data."""
    from keras_l11.video import prepare

    if config.data == "digits":
        make = lambda n, split, seed: prepare.moving_digit_set(  # noqa: E731
            n, split, seed, config.frames, config.height, config.flow_method
        )
        return (
            make(config.train_videos, "train", 0),
            make(config.validation_videos, "train", 1),
            make(config.test_videos, "test", 2),
        )
    if config.data == "ucf101":
        make = lambda split: prepare.ucf101_set(  # noqa: E731
            split, config.frames, config.height, config.width, config.flow_method
        )
        return make("train[:90%]"), make("train[90%:]"), make("test")
    raise ValueError(f"data must be 'digits' or 'ucf101', got {config.data!r}")


@dataclasses.dataclass(frozen=True)
class Window:
    """What a model reads from a video: `span` consecutive `source` items
    ("frames" or "flows"); `squeeze` drops the time axis (span 1, image models)."""

    source: str
    span: int
    squeeze: bool = False

    def __post_init__(self):
        if self.source not in ("frames", "flows"):
            raise ValueError(f"a window reads 'frames' or 'flows', not {self.source!r}")
        if self.squeeze and self.span != 1:
            raise ValueError("only a one-item window can drop its time axis")

    def length(self, videos):
        """Items per video in `videos` (frames, or frames - 1 flows)."""
        return videos.frames.shape[1] - (self.source == "flows")

    def starts(self, length):
        """Every possible start of a window in `length` items."""
        if length < self.span:
            raise ValueError(f"windows of {self.span} {self.source} need videos of at least that many, got {length}")
        return length - self.span + 1

    def read(self, videos, index, start):
        """Windows `[B, span, H, W, C]` float32 (or `[B, H, W, C]`) of videos `index` at `start`."""
        store = videos.frames if self.source == "frames" else videos.flows
        if hasattr(store, "windows"):  # prepared records: the batch's frames in one read
            out = store.windows(index, start, self.span).astype(np.float32)
        else:
            out = np.stack([store[i, t : t + self.span] for i, t in zip(index, start)]).astype(np.float32)
        return out[:, 0] if self.squeeze else out


def train_dataset(videos, window, batch, seed, start_step=0, per_step_labels=False):
    """Endless batches `(windows, labels)` of random windows of random videos;
    labels `[B]`, or `[B, span]` for models that predict every step (LRCN)."""
    count, starts = len(videos), window.starts(window.length(videos))
    labels = np.asarray(videos.labels, np.int32)

    def read(draws):
        index, start = draws[:, 0] % count, draws[:, 1] % starts
        y = labels[index]
        return window.read(videos, index, start), np.repeat(y[:, None], window.span, 1) if per_step_labels else y

    sample_shape = videos.frames.shape[2:] if window.source == "frames" else videos.flows.shape[2:]
    x_shape = [None, *sample_shape] if window.squeeze else [None, window.span, *sample_shape]

    def load(draws):
        x, y = tf.numpy_function(read, [draws], [tf.float32, tf.int32])
        x.set_shape(x_shape)
        y.set_shape([None, window.span] if per_step_labels else [None])
        return x, y

    ds = tf.data.Dataset.random(seed=seed).batch(2).batch(batch).skip(start_step)
    return ds.map(load, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def window_starts(length, span, count):
    """`count` evenly spaced window starts in a video of `length` items (a graph op).

    The starts depend on the length check: in a graph, an assertion nothing
    depends on may run after the gather it guards, which then fails first with
    an index error instead of this message."""
    check = tf.debugging.assert_greater_equal(
        length, span, message=f"videos are too short: a window needs {span} consecutive items"
    )
    with tf.control_dependencies([check]):
        return tf.cast(tf.round(tf.linspace(0.0, tf.cast(length - span, tf.float32), count)), tf.int32)


def classify_videos(window_fn, videos, span, count, squeeze=False):
    """The test protocol in the graph: `videos [B, V, ...]` -> `count` evenly
    spaced windows each -> `window_fn(windows [B * count, span, ...]) ->
    probabilities [B * count, C]`; returns the dict a signature answers:
    `probabilities [B, C]` (the windows' mean), `window_probabilities
    [B, count, C]` and `classes [B]`."""
    videos = tf.convert_to_tensor(videos)
    starts = window_starts(tf.shape(videos)[1], span, count)
    index = starts[:, None] + tf.range(span)[None, :]  # [count, span]
    windows = tf.gather(videos, index, axis=1)  # [B, count, span, ...]
    shape = tf.shape(windows)
    flat = tf.reshape(windows, tf.concat([[-1], shape[3:] if squeeze else shape[2:]], 0))
    per_window = window_fn(flat)
    per_window = tf.reshape(per_window, [shape[0], count, -1])
    probabilities = tf.reduce_mean(per_window, axis=1)
    return {
        "probabilities": probabilities,
        "window_probabilities": per_window,
        "classes": tf.argmax(probabilities, axis=-1, output_type=tf.int32),
    }


def resize_frames(videos, height, width):
    """uint8 or float videos `[B, V, h, w, 3]` -> float32 `[B, V, height, width, 3]`."""
    videos = tf.cast(videos, tf.float32)
    shape = tf.shape(videos)
    frames = tf.reshape(videos, tf.concat([[-1], shape[2:]], 0))
    resized = tf.image.resize(frames, [height, width], antialias=True)
    return tf.reshape(resized, tf.concat([shape[:2], [height, width, 3]], 0))


def video_scores(window_fn, videos, window, count, batch=8):
    """`[N, count, C]` probabilities of each video's evenly spaced windows
    (the signature's protocol, run eagerly over a `VideoSet`)."""
    store = videos.frames if window.source == "frames" else videos.flows
    fn = tf.function(lambda v: classify_videos(window_fn, v, window.span, count, window.squeeze))
    chunks = (np.asarray(store[i : i + batch], np.float32) for i in range(0, len(store), batch))
    return np.concatenate([fn(chunk)["window_probabilities"].numpy() for chunk in chunks])


def accuracies(scores, labels, class_names=None, per_video=None):
    """Clip (single window) and video accuracy of window `scores [N, windows,
    C]`, a video's scores being the windows' mean unless `per_video [N, C]`
    is given (an SVM on the mean); on the offline digits, also the video
    accuracy of the motion alone and of the digit alone."""
    labels = np.asarray(labels)
    video = (scores.mean(axis=1) if per_video is None else per_video).argmax(-1)
    result = {
        "clip_accuracy": float((scores.argmax(-1) == labels[:, None]).mean()),
        "video_accuracy": float((video == labels).mean()),
    }
    if class_names is not None and tuple(class_names) == video_data.CLASS_NAMES:
        true_digit, true_motion = video_data.digit_and_motion(labels)
        digit, motion = video_data.digit_and_motion(video)
        result["motion_accuracy"] = float((motion == true_motion).mean())
        result["digit_accuracy"] = float((digit == true_digit).mean())
    return result


def accuracy_table(title, results):
    """A table of `{row name: accuracies(...)}`, one row each."""
    from keras_l11.training.harness import format_table

    columns = list(next(iter(results.values())))
    rows = [[name, *(r.get(c, "") for c in columns)] for name, r in results.items()]
    return format_table([title, *columns], rows)


def chance(train, test):
    """The test accuracy of always predicting the most frequent training class."""
    most_frequent = np.bincount(np.asarray(train.labels), minlength=train.num_classes).argmax()
    return float((np.asarray(test.labels) == most_frequent).mean())


def plot_predictions(videos, scores, path, count=4):
    """Frames and flow of the first `count` videos, titled with the true and
    the predicted class."""
    from keras_l11.video import figures

    names = videos.class_names
    predicted = scores[:count].mean(axis=1).argmax(-1)
    titles = [f"true: {names[t]}\npredicted: {names[p]}" for t, p in zip(videos.labels[:count], predicted)]
    return figures.plot_video_flow(videos.frames[:count], videos.flows[:count], path, titles)


def train_window_model(flags, job, variant, build_model, window, signatures, window_fn=None, per_step_labels=False):
    """What the video jobs that train one model do: load the config's videos,
    train `build_model(num_classes)` on random windows, evaluate it with the
    test protocol, save it for a fusion step, export `job_name` with the
    `signatures(local model)`, and return the run's summary.

    `window_fn(model)` maps the model to a function of windows returning
    class probabilities (default: the model); models that predict every step
    (LRCN) take `per_step_labels`.
    """
    import keras

    from keras_l11.training import harness

    config = flags.train_config
    with harness.exit_on_missing_data():
        train, _, test = load_videos(config)
    job_name = f"{job}_{variant}"  # the exported model's name
    run = harness.start(flags, job, variant=variant)
    result = run.fit(
        build_model=lambda: build_model(train.num_classes),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=lambda: [keras.metrics.SparseCategoricalAccuracy("accuracy")],
        train_data=lambda batch, seed, start: train_dataset(train, window, batch, seed, start, per_step_labels),
    )
    model = run.local_copy(result.model)
    scores = video_scores(window_fn(model) if window_fn else model, test, window, config.test_windows)
    evaluation = {**accuracies(scores, test.labels, test.class_names), "chance": chance(train, test)}
    run.summary["evaluation"] = evaluation
    print(accuracy_table(f"{job_name} ({len(test)} test videos)", {job_name: evaluation}))
    if run.is_chief:
        run.summary["figure"] = plot_predictions(test, scores, os.path.join(run.model_dir, "videos.png"))
    run.save_keras(result.model)
    run.export(result.model, job_name, signatures)
    run.write_summary()
    return run.summary


def start_fusion(flags, job_name, run_dirs):
    """What a fusion step does first: check that `run_dirs` (`{flag: run
    folder}`) are all given, load the config's videos, start the run (in
    `runs/<job_name>/<config>-fused` by default) and load the trained models.
    Returns `(run, (train, validation, test), models)`; exits with a message
    on missing folders or data."""
    from keras_l11.training import harness
    from keras_l11.training.transfer import load_saved_model

    missing = [flag for flag, folder in run_dirs.items() if not folder]
    if missing:
        sys.exit(f"error: --fuse needs {' and '.join(missing)}, the trained models' run folders")
    with harness.exit_on_missing_data():
        videos = load_videos(flags.train_config)
        run = harness.start(flags, job_name, variant="fused")
        models = [load_saved_model(folder) for folder in run_dirs.values()]
    return run, videos, models


def stream_window(stream, flow_length):
    return Window("frames", 1, squeeze=True) if stream == "spatial" else Window("flows", flow_length)


def lrcn_window(modality, clip_frames):
    return Window("frames" if modality == "rgb" else "flows", clip_frames)
