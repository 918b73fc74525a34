"""Which model versions are loaded, and keeping that in step with disk and config.

Follows TF Serving's behaviour (the docs' serving page): versions are integer folders under
a model's base path; the version policy (`latest { num_versions }` (default 1),
`all {}`, `specific { versions }`) picks the ones to serve; new folders are
picked up by polling and loaded *before* the versions they replace are
unloaded (availability-preserving), so a version that fails to load never
takes the serving one down. A failed load is retried after
`load_retry_interval_micros`, at most `max_num_load_retries` times. A config
reload is applied only if it is valid and every model it adds loads; otherwise
the old config keeps serving.
"""

import logging
import os
import threading
import time

import grpc

from keras_l11.serving.errors import ServingError, invalid, not_found
from keras_l11.serving.servable import Servable

log = logging.getLogger("serving")

START, LOADING, AVAILABLE, UNLOADING, END = "START", "LOADING", "AVAILABLE", "UNLOADING", "END"
STATE_NUMBERS = {START: 10, LOADING: 20, AVAILABLE: 30, UNLOADING: 40, END: 50}


class VersionStatus:
    def __init__(self, version):
        self.version = version
        self.state = START
        self.error_code = grpc.StatusCode.OK
        self.error_message = ""
        self.servable = None
        self.failures = 0
        self.failed_at = 0.0


class ManagedModel:
    def __init__(self, config):
        self.name = config.name
        self.base_path = config.base_path
        self.config = config
        self.versions = {}  # version -> VersionStatus

    def policy(self, on_disk):
        policy = self.config.model_version_policy
        kind = policy.WhichOneof("policy_choice")
        if kind == "all":
            return set(on_disk)
        if kind == "specific":
            return set(policy.specific.versions) & set(on_disk)
        n = policy.latest.num_versions if kind == "latest" and policy.latest.num_versions > 0 else 1
        return set(sorted(on_disk)[-n:])

    @property
    def labels(self):
        return dict(self.config.version_labels)

    def available(self):
        return {v: s.servable for v, s in self.versions.items() if s.state == AVAILABLE}


def versions_on_disk(base_path):
    try:
        entries = os.listdir(base_path)
    except OSError:
        return set()
    return {
        int(d)
        for d in entries
        if d.isdigit() and int(d) > 0 and os.path.exists(os.path.join(base_path, d, "saved_model.pb"))
    }


def validate_config(config):
    """Structural checks TF Serving makes on a ModelServerConfig."""
    if config.WhichOneof("config") != "model_config_list":
        raise invalid("ModelServerConfig: only model_config_list is supported")
    names = [c.name for c in config.model_config_list.config]
    for c in config.model_config_list.config:
        if not c.name:
            raise invalid("ModelServerConfig: a model has no name")
        if not c.base_path:
            raise invalid(f"ModelServerConfig: model '{c.name}' has no base_path")
        if c.model_platform not in ("", "tensorflow"):
            raise invalid(f"ModelServerConfig: model '{c.name}': platform '{c.model_platform}' is not supported")
        for label in c.version_labels:
            if not label.replace("_", "a").isalnum() or not label.isascii():
                raise invalid(f"ModelServerConfig: model '{c.name}': label '{label}' must match [a-zA-Z0-9_]+")
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise invalid(f"ModelServerConfig: duplicate model names {sorted(duplicates)}")


class ModelManager:
    def __init__(
        self,
        config,
        poll_seconds=1.0,
        load_retry_seconds=60.0,
        max_load_retries=5,
        allow_labels_for_unavailable=False,
        on_unload=None,
    ):
        validate_config(config)
        self.poll_seconds = poll_seconds
        self.load_retry_seconds = load_retry_seconds
        self.max_load_retries = max_load_retries
        self.allow_labels_for_unavailable = allow_labels_for_unavailable
        self.on_unload = on_unload or (lambda servable: None)
        self._lock = threading.RLock()
        self._poll_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self.config = config
        self.models = {c.name: ManagedModel(c) for c in config.model_config_list.config}
        if not allow_labels_for_unavailable:
            for model in self.models.values():
                if model.labels:
                    raise invalid(
                        f"Model '{model.name}': version labels name versions before any is loaded; start "
                        "without labels and add them with a config reload, or pass "
                        "--allow_version_labels_for_unavailable_models=true"
                    )

    # --- lifecycle -------------------------------------------------------
    def start(self, wait_seconds=None):
        """Loads what the config asks for; waits until every model has a version."""
        deadline = None if wait_seconds is None else time.monotonic() + wait_seconds
        while True:
            self.poll()
            waiting = [m.name for m in self.models.values() if not m.available()]
            if not waiting:
                break
            if deadline is not None and time.monotonic() > deadline:
                raise ServingError(grpc.StatusCode.UNAVAILABLE, f"no version of {waiting} could be loaded")
            log.warning("waiting for a loadable version of %s", waiting)
            time.sleep(max(self.poll_seconds, 0.2))
        if self.poll_seconds > 0:
            self._thread = threading.Thread(target=self._poll_forever, name="version-poller", daemon=True)
            self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _poll_forever(self):
        while not self._stop.wait(self.poll_seconds):
            try:
                self.poll()
            except Exception:  # noqa: BLE001 - the poller must survive anything on disk
                log.exception("version poll failed")

    # --- polling -----------------------------------------------------------
    def poll(self):
        with self._poll_lock:
            for model in list(self.models.values()):
                self._sync(model)

    def _sync(self, model, unload=True):
        on_disk = versions_on_disk(model.base_path)
        wanted = model.policy(on_disk)
        for version in sorted(wanted, reverse=True):
            status = model.versions.get(version)
            if status is None or self._should_retry(status):
                self._load(model, version, status)
        if not unload:
            return
        with self._lock:
            serving_wanted = any(model.versions[v].state == AVAILABLE for v in wanted if v in model.versions)
            for version, status in list(model.versions.items()):
                if status.state == AVAILABLE and version not in wanted and serving_wanted:
                    status.state = UNLOADING
                    servable, status.servable = status.servable, None
                    status.state = END
                    self.on_unload(servable)
                    log.info("unloaded %s version %d", model.name, version)

    def _should_retry(self, status):
        return (
            status.state == END
            and status.error_code != grpc.StatusCode.OK
            and status.failures <= self.max_load_retries
            and time.monotonic() - status.failed_at >= self.load_retry_seconds
        )

    def _load(self, model, version, status):
        status = status or VersionStatus(version)
        with self._lock:
            model.versions[version] = status
            status.state = LOADING
        path = os.path.join(model.base_path, str(version))
        try:
            servable = Servable(model.name, version, path)
        except Exception as err:  # noqa: BLE001 - any failure to load is reported in the status
            with self._lock:
                status.state = END
                status.error_code = grpc.StatusCode.UNKNOWN
                status.error_message = f"Failed to load {path}: {type(err).__name__}: {err}"[:2000]
                status.failures += 1
                status.failed_at = time.monotonic()
            log.error("%s", status.error_message)
            return
        with self._lock:
            status.servable = servable
            status.state = AVAILABLE
            status.error_code = grpc.StatusCode.OK
            status.error_message = ""
        log.info("loaded %s version %d from %s", model.name, version, path)

    # --- requests ------------------------------------------------------------
    def resolve(self, name, version=None, label=None):
        """The servable a request names (latest available when neither is given)."""
        with self._lock:
            model = self.models.get(name)
            if label:
                if model is None or label not in model.labels:
                    raise invalid(f"Unrecognized servable version label: {label}")
                version = model.labels[label]
            available = model.available() if model else {}
            if version is None:
                if not available:
                    raise not_found(f"Servable not found for request: Latest({name})")
                return available[max(available)]
            if version not in available:
                raise not_found(f"Servable not found for request: Specific({name}, {version})")
            return available[version]

    def status(self, name, version=None, label=None):
        """`[(version, state, error_code, error_message)]`, newest first."""
        with self._lock:
            model = self.models.get(name)
            if model is None:
                raise not_found(f"Could not find any versions of model {name}")
            if label:
                if label not in model.labels:
                    raise invalid(f"Unrecognized servable version label: {label}")
                version = model.labels[label]
            rows = [
                (s.version, s.state, s.error_code, s.error_message)
                for s in sorted(model.versions.values(), key=lambda s: -s.version)
                if version is None or s.version == version
            ]
            if not rows:
                raise not_found(f"Could not find version {version} of model {name}")
            return rows

    # --- config reload -------------------------------------------------------
    def reload(self, config):
        """Applies a new ModelServerConfig, or raises and keeps the old one."""
        validate_config(config)
        with self._poll_lock:
            new_models = {}
            for c in config.model_config_list.config:
                old = self.models.get(c.name)
                if old is not None and old.base_path == c.base_path:
                    model = ManagedModel(c)
                    model.versions = old.versions
                else:
                    model = ManagedModel(c)
                new_models[c.name] = model
            for model in new_models.values():
                self._sync(model, unload=False)  # unload only once the new config is committed
                if not model.available():
                    self._unload_all(model, keep=self.models.get(model.name))
                    raise ServingError(
                        grpc.StatusCode.UNAVAILABLE,
                        f"Reload failed: model '{model.name}' has no loadable version under "
                        f"{model.base_path}; the previous config keeps serving",
                    )
                for label, version in model.labels.items():
                    if version not in model.available() and not self.allow_labels_for_unavailable:
                        self._unload_all(model, keep=self.models.get(model.name))
                        raise invalid(
                            f"Reload failed: label '{label}' of model '{model.name}' names version "
                            f"{version}, which is not loaded; the previous config keeps serving"
                        )
            with self._lock:
                removed = [m for n, m in self.models.items() if n not in new_models]
                self.models = new_models
                self.config = config
            for model in removed:
                self._unload_all(model)
            for model in new_models.values():
                self._sync(model)

    def _unload_all(self, model, keep=None):
        keep_ids = {id(s) for s in keep.versions.values()} if keep else set()
        with self._lock:
            for status in model.versions.values():
                if status.servable is not None and id(status) not in keep_ids:
                    servable, status.servable = status.servable, None
                    status.state = END
                    self.on_unload(servable)
