"""SavedModel export in TF Serving's layout, and the serving config entry.

`saved_models/<model_name>/<version>/` with the next free integer version.
A version is written to a temporary folder beside it and renamed into place
when complete, so a server polling the base path never sees half a model.
"""

import dataclasses
import os
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

from keras_l11.serving import model_config
from keras_l11.serving.versions import versions_on_disk


@dataclasses.dataclass
class Signature:
    """A named export endpoint.

    Attributes:
        fn: called with one keyword argument per input; returns a dict of
            named outputs (the output names clients see).
        inputs: input name -> `tf.TensorSpec`.
        example: input name -> value for the warmup request (the other inputs
            get `example_inputs`' values).
        example_size: the size `example_inputs` gives unknown dimensions.
    """

    fn: callable
    inputs: dict
    example: dict = dataclasses.field(default_factory=dict)
    example_size: int = 4


def example_inputs(specs, given=(), size=4, seed=0):
    """A value for every input of `specs` (name -> `tf.TensorSpec`), batch 1:
    images (string inputs named like "image") as PNG, other strings as text,
    uint8 pixels 0 or 255 (valid for binary inputs too), other integers 1, floats
    uniform in [0, 1); unknown dimensions `size`. `given` values are kept."""
    rng = np.random.default_rng(seed)
    inputs = {}
    given = dict(given)
    for name, spec in specs.items():
        if name in given:
            inputs[name] = np.asarray(given[name])
            continue
        dims = [1 if i == 0 and d is None else size if d is None else d for i, d in enumerate(spec.shape.as_list())]
        if spec.dtype == tf.string and "image" in name:
            png = tf.io.encode_png(rng.integers(0, 256, (48, 64, 3)).astype(np.uint8)).numpy()
            inputs[name] = np.full(dims, png, dtype=object)
        elif spec.dtype == tf.string:
            inputs[name] = np.full(dims, b"a small example", dtype=object)
        elif spec.dtype == tf.uint8:
            inputs[name] = (255 * rng.integers(0, 2, dims)).astype(np.uint8)
        elif spec.dtype.is_integer:
            inputs[name] = np.ones(dims, spec.dtype.as_numpy_dtype)
        elif spec.dtype == tf.bool:
            inputs[name] = np.ones(dims, bool)
        else:
            inputs[name] = rng.uniform(0, 1, dims).astype(spec.dtype.as_numpy_dtype)
    return inputs


# TF Serving replays this file while a version loads (--enable_model_warmup, on by default).
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")


def write_warmup_requests(endpoints, version_dir, model_name, signatures):
    """One `PredictionLog` per signature, its example request, into the version's
    `assets.extra/tf_serving_warmup_requests` (TF Serving's warmup file). Each
    request is first run through its endpoint (`endpoints`: the archive's traced
    functions), so a version never ships
    a warmup request that would fail its load."""
    records = []
    for name, signature in signatures.items():
        example = example_inputs(signature.inputs, signature.example, signature.example_size)
        try:
            endpoints[name](*[tf.constant(example[k], signature.inputs[k].dtype) for k in signature.inputs])
        except Exception as err:
            raise ValueError(
                f"signature {name!r}: its warmup request fails ({type(err).__name__}: {err}); give the "
                "Signature an `example` (or `example_size`) it accepts"
            ) from err
        request = predict_pb2.PredictRequest()
        request.model_spec.name = model_name
        request.model_spec.signature_name = name
        for key, value in example.items():
            request.inputs[key].CopyFrom(tf.make_tensor_proto(value, signature.inputs[key].dtype))
        records.append(prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request)))
    path = os.path.join(version_dir, WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for record in records:
            writer.write(record.SerializeToString())


def _positional(fn, names):
    """`fn(**inputs)` as a function of positional tensors (what tf.function traces)."""

    def endpoint(*args):
        return fn(**dict(zip(names, args)))

    return endpoint


def next_version(base_path):
    """1 + the highest integer version folder under `base_path` (1 if none)."""
    return max(versions_on_disk(base_path), default=0) + 1


def export_saved_model(model, base_path, signatures, assets=()):
    """Writes `model` as `<base_path>/<next version>/` with named signatures.

    Args:
        model: a built Keras model (not distributed).
        base_path: the model's folder, e.g. `saved_models/ntm_copy`.
        signatures: signature name -> `Signature`; must contain
            `"serving_default"`.
        assets: other Keras layers the signatures use (tokenisers with their
            lookup tables), tracked so their resources are saved.

    Returns:
        The path of the version written: the next free number at the moment
        it was renamed into place (a concurrent export may have taken one).
    """
    if "serving_default" not in signatures:
        raise ValueError(f"signatures need a 'serving_default', got {sorted(signatures)}")
    archive = keras.export.ExportArchive()
    archive.track(model)
    for asset in assets:
        archive.track(asset)
    endpoints = {}
    for name, signature in signatures.items():
        names = list(signature.inputs)
        specs = [
            tf.TensorSpec(spec.shape, spec.dtype, name=input_name) for input_name, spec in signature.inputs.items()
        ]

        endpoints[name] = archive.add_endpoint(name, _positional(signature.fn, names), input_signature=specs)

    os.makedirs(base_path, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".export-", dir=base_path)
    try:
        archive.write_out(staging, verbose=False)
        write_warmup_requests(endpoints, staging, os.path.basename(os.path.normpath(base_path)), signatures)
        while True:  # another exporter may take a version number first: take the next
            final = os.path.join(base_path, str(next_version(base_path)))
            try:
                os.rename(staging, final)
                return final
            except OSError:
                if not os.path.exists(final):
                    raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def register_model(config_path, name, base_path):
    """Adds (or updates) model `name` at `base_path` in a serving config file, as
    the absolute path TF Serving requires; the file is replaced atomically and
    checked against TF Serving's rules first. Returns the config."""
    config = model_config.read_config(config_path)
    entries = config.model_config_list.config
    entry = next((c for c in entries if c.name == name), None)
    if entry is None:
        entry = entries.add(name=name, model_platform="tensorflow")
    entry.base_path = os.path.abspath(base_path)
    model_config.write_config(config, config_path)
    return config
