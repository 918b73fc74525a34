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
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2


@dataclasses.dataclass
class Signature:
    """A named export endpoint.

    Attributes:
        fn: called with one keyword argument per input; returns a dict of
            named outputs (the output names clients see).
        inputs: input name -> `tf.TensorSpec`.
    """

    fn: callable
    inputs: dict


def _positional(fn, names):
    """`fn(**inputs)` as a function of positional tensors (what tf.function traces)."""

    def endpoint(*args):
        return fn(**dict(zip(names, args)))

    return endpoint


def next_version(base_path):
    """1 + the highest integer version folder under `base_path` (1 if none)."""
    if not os.path.isdir(base_path):
        return 1
    versions = [int(d) for d in os.listdir(base_path) if d.isdigit()]
    return max(versions, default=0) + 1


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
    for name, signature in signatures.items():
        names = list(signature.inputs)
        specs = [
            tf.TensorSpec(spec.shape, spec.dtype, name=input_name) for input_name, spec in signature.inputs.items()
        ]

        archive.add_endpoint(name, _positional(signature.fn, names), input_signature=specs)

    os.makedirs(base_path, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".export-", dir=base_path)
    try:
        archive.write_out(staging, verbose=False)
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


def read_serving_config(path):
    """Parses a text-format `ModelServerConfig` (an empty one if `path` is missing)."""
    config = model_server_config_pb2.ModelServerConfig()
    if os.path.exists(path):
        with open(path) as f:
            text_format.Parse(f.read(), config)
    return config


def register_model(config_path, name, base_path):
    """Adds (or updates) model `name` at `base_path` in a serving config file.

    `base_path` is written relative to the config file's folder's parent when
    it lies inside it (the project root for `serving/models.config`), so the
    shipped config works from a checkout; otherwise it is written absolute.
    The file is replaced atomically.
    """
    config = read_serving_config(config_path)
    root = os.path.dirname(os.path.dirname(os.path.abspath(config_path)))
    absolute = os.path.abspath(base_path)
    inside = os.path.commonpath([root, absolute]) == root
    stored = os.path.relpath(absolute, root) if inside else absolute
    entries = config.model_config_list.config
    entry = next((c for c in entries if c.name == name), None)
    if entry is None:
        entry = entries.add(name=name, model_platform="tensorflow")
    entry.base_path = stored
    folder = os.path.dirname(os.path.abspath(config_path))
    os.makedirs(folder, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=folder, prefix=".models.config-", delete=False) as f:
        f.write(text_format.MessageToString(config))
    os.replace(f.name, config_path)
    return config
