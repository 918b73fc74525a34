"""A TF Serving model config from what a `saved_models/` folder holds.

TensorFlow Serving takes only absolute base paths (or URIs), so a config names
the folder layout of the machine or container that serves it. One command writes
it for either:

    # the container layout (docs: serving; Docker, Kubernetes): models at /models/<name>
    python -m keras_l11.serving.model_config --model_root /models --out serving/models.config
    # this checkout (the apt package, or `python -m serving`)
    python -m keras_l11.serving.model_config --out saved_models/models.config

Every folder of `--saved_models` that holds at least one version folder (a name
TF Serving reads as a version number) becomes a model of that name at
`<model_root>/<name>`. A model already in `--out` keeps its other settings
(version policy, labels); models no longer in `--saved_models` are dropped, since
TF Serving waits at start-up until every listed model has loaded. The result is
checked against TF Serving's rules (`keras_l11.serving.config_rules`) before the
file is replaced (atomically).
"""

import argparse
import os
import sys
import tempfile

from keras_l11.command_line import HelpFormatter
from keras_l11.serving.versions import versions_on_disk


def models_in(saved_models):
    """Sorted names of the folders under `saved_models` with a version folder."""
    if not os.path.isdir(saved_models):
        raise FileNotFoundError(f"{saved_models} is not a folder: export a model first (python -m train.<task>)")
    names = []
    for name in sorted(os.listdir(saved_models)):
        folder = os.path.join(saved_models, name)
        if not name.startswith(".") and os.path.isdir(folder) and versions_on_disk(folder):
            names.append(name)
    return names


def read_config(path):
    """The `ModelServerConfig` in `path` (an empty one if there is no file)."""
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    config = model_server_config_pb2.ModelServerConfig()
    if os.path.exists(path):
        with open(path) as f:
            text_format.Parse(f.read(), config)
    return config


def write_config(config, path):
    """Checks `config` against TF Serving's rules, then replaces `path` with it atomically."""
    from google.protobuf import text_format

    from keras_l11.serving.config_rules import validate_config

    validate_config(config)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=folder, prefix=".models.config-", delete=False) as f:
        f.write(text_format.MessageToString(config))
    os.replace(f.name, path)


def config_for(names, model_root, previous=None):
    """A `ModelServerConfig` of `names` at `<model_root>/<name>`, keeping each
    name's other settings from `previous`."""
    from tensorflow_serving.config import model_server_config_pb2

    kept = {c.name: c for c in previous.model_config_list.config} if previous is not None else {}
    config = model_server_config_pb2.ModelServerConfig()
    for name in names:
        entry = config.model_config_list.config.add()
        if name in kept:
            entry.CopyFrom(kept[name])
        entry.name, entry.model_platform = name, "tensorflow"
        entry.base_path = f"{model_root.rstrip('/')}/{name}"
    return config


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m keras_l11.serving.model_config",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--saved_models", default="saved_models", help="the folder of exported models")
    parser.add_argument(
        "--model_root",
        default=None,
        help="where the serving machine sees that folder (absolute; default: the folder's absolute path here)",
    )
    parser.add_argument("--out", required=True, help="the model config file to write (e.g. serving/models.config)")
    return parser


def main(argv=None):
    flags = build_parser().parse_args(argv)
    root = flags.model_root or os.path.abspath(flags.saved_models)
    from keras_l11.serving.config_rules import is_relative_path
    from keras_l11.serving.errors import ServingError

    if is_relative_path(root):
        print(
            f"--model_root must be absolute or a URI (TF Serving refuses relative paths), got {root}", file=sys.stderr
        )
        return 2
    try:
        names = models_in(flags.saved_models)
        if not names:
            raise FileNotFoundError(f"no exported model under {flags.saved_models}")
        config = config_for(names, root, read_config(flags.out))
        write_config(config, flags.out)
    except (OSError, ServingError) as err:
        print(getattr(err, "message", str(err)), file=sys.stderr)
        return 1
    base = root.rstrip("/")
    print(f"{flags.out}: " + ", ".join(f"{name} at {base}/{name}" for name in names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
