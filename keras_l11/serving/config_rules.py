"""The rules TF Serving's stock `tensorflow_model_server` applies to a
`ModelServerConfig` before it serves anything, with its messages.

Each rule names the place in TensorFlow Serving's sources it comes from, so that a
config our server accepts is one the real binary accepts too (and the reverse):

- `server_core.cc`, `ValidateModelConfigList`: a model is listed once; every
  `base_path` is absolute or a URI (the stock binary sets no
  `model_config_list_root_dir`, so relative paths are refused; its test
  `ServerCoreTest.RelativePathFails`).
- `server_core.cc`, `GetPlatform` and `CreateStoragePathRoutes`: a model names a
  platform (`model_platform`, or the deprecated `model_type`, not both), and the
  platform is one the server has: "tensorflow".
- `core/server_request_logger.cc`, `CreateUpdateRequestLocked`: the stock binary has
  no request-logger creator, so any `logging_config` is refused.
- `server_core.cc`, `ReloadConfig` and `AddModelsViaCustomModelConfig`: an empty config
  serves nothing ("Taking no action for empty config"); a `custom_model_config` needs
  a loader the stock binary does not have.
- `model_servers/http_rest_api_handler.cc`: REST names a label with `[a-zA-Z0-9_]+`;
  a label that cannot be named could never be used.
"""

import re

from keras_l11.serving.errors import invalid

TENSORFLOW_PLATFORM = "tensorflow"
_URI = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<host>[^/]*)(?P<path>.*)$")
_LABEL = re.compile(r"^[a-zA-Z0-9_]+$")


def is_relative_path(uri):
    """`server_core.cc`'s `UriIsRelativePath`: no scheme, no host, and a path
    that does not start with "/" (`tsl::io::ParseURI`, `io::IsAbsolutePath`)."""
    match = _URI.match(uri)
    if match:
        return False
    return not uri.startswith("/")


def platform(model_config):
    """The model's platform, or TF Serving's error for a config that names none or both."""
    name = model_config.name
    if model_config.model_type:  # ModelType.MODEL_TYPE_UNSPECIFIED is 0
        if model_config.model_platform:
            raise invalid(
                "Illegal setting both ModelServerConfig::model_type (deprecated) "
                f"and ModelServerConfig::model_platform, model name is {name}"
            )
        if model_config.model_type != 1:  # ModelType.TENSORFLOW
            raise invalid(f"ModelServerConfig::model_type choice {model_config.model_type} not supported.")
        return TENSORFLOW_PLATFORM
    if not model_config.model_platform:
        raise invalid(
            "Illegal setting neither ModelServerConfig::model_type (deprecated) "
            f"nor ModelServerConfig::model_platform, model name is {name}"
        )
    return model_config.model_platform


def validate_config(config):
    """Raises `ServingError` (INVALID_ARGUMENT) with TF Serving's message for the
    first rule `config` (a `ModelServerConfig`) breaks."""
    kind = config.WhichOneof("config")
    if kind == "custom_model_config":
        raise invalid("Missing custom_model_config_loader in ServerCore Options")
    models = config.model_config_list.config
    seen = set()
    for model in models:
        if model.name in seen:
            raise invalid(f"Illegal to list model {model.name} multiple times in config list")
        seen.add(model.name)
    for model in models:
        if is_relative_path(model.base_path):
            raise invalid(
                f"Expected model {model.name} to have an absolute path or URI; got base_path()={model.base_path}"
            )
    for model in models:
        if platform(model) != TENSORFLOW_PLATFORM:
            raise invalid(f"Model {model.name} requests unsupported platform {platform(model)}")
        for label in model.version_labels:
            if not _LABEL.match(label):
                raise invalid(f"ModelServerConfig: model '{model.name}': label '{label}' must match [a-zA-Z0-9_]+")
    if any(model.HasField("logging_config") for model in models):
        raise invalid("No request-logger-creator provided.")
