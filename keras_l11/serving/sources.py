"""Where a client command gets its model from: a SavedModel folder on disk, or a
model on a running TF Serving (or `python -m serving`) over REST or gRPC.

Every topic's client command (`python -m keras_l11.<topic>.client`) takes the
same `--saved_model` / `--server` flags and calls `call_signature`.
"""

import functools
import os

from keras_l11.serving.versions import versions_on_disk


def latest_version(base_path):
    """`base_path` itself if it is a SavedModel, else its highest version folder."""
    if os.path.exists(os.path.join(base_path, "saved_model.pb")):
        return base_path
    versions = versions_on_disk(base_path)
    if not versions:
        raise FileNotFoundError(f"no SavedModel in {base_path}: export one with its python -m train.<task> job")
    return os.path.join(base_path, versions[max(versions)])


@functools.lru_cache(maxsize=8)
def _load(path):
    import tensorflow as tf

    return tf.saved_model.load(path)


def saved_signature(saved_model, signature):
    """Signature `signature` of a SavedModel folder (or its latest version),
    loaded once per process however many calls a client makes."""
    loaded = _load(latest_version(saved_model))
    if signature not in loaded.signatures:
        raise ValueError(f"{saved_model} has no signature {signature!r} (it has {sorted(loaded.signatures)})")
    return loaded.signatures[signature]


def call_signature(signature, inputs, saved_model=None, server=None, model=None, protocol="rest"):
    """`{output: array}` of `signature` on `inputs`, from a SavedModel folder
    (`saved_model`) or from model `model` on a running `server` (host:port)."""
    if saved_model:
        import tensorflow as tf

        fn = saved_signature(saved_model, signature)
        return {k: v.numpy() for k, v in fn(**{k: tf.constant(v) for k, v in inputs.items()}).items()}
    from keras_l11.serving.client import Client

    with Client(server, protocol=protocol) as client:
        return client.predict(model, inputs, signature_name=signature)


def add_source_flags(parser, default_model):
    """`--saved_model` or `--server` (+ `--model`, `--protocol`): where `call_signature` asks."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--saved_model", help="a SavedModel folder, or a model folder with numbered versions")
    source.add_argument("--server", help="host:port of a TF Serving (or `python -m serving`) REST or gRPC port")
    parser.add_argument("--model", default=default_model, help="model name on the server")
    parser.add_argument("--protocol", choices=("rest", "grpc"), default="rest")
