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

from keras_l11.serving.config_rules import validate_config
from keras_l11.serving.errors import ServingError, failed_precondition, invalid, not_found
from keras_l11.serving.servable import Servable
from keras_l11.serving.tflite_servable import TfLiteServable, has_tflite_model
from keras_l11.serving.versions import versions_on_disk
from keras_l11.serving.warmup import run_warmup

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


class ModelManager:
    def __init__(
        self,
        config,
        poll_seconds=1.0,
        load_retry_seconds=60.0,
        max_load_retries=5,
        allow_labels_for_unavailable=False,
        on_unload=None,
        warmup_iterations=1,
        session_config=None,
        batching_for=None,
        tags=("serve",),
        prefer_tflite=False,
        tflite_interpreters=1,
    ):
        validate_config(config)
        self.poll_seconds = poll_seconds
        self.load_retry_seconds = load_retry_seconds
        self.max_load_retries = max_load_retries
        self.allow_labels_for_unavailable = allow_labels_for_unavailable
        self.on_unload = on_unload or (lambda servable: None)
        self.warmup_iterations = warmup_iterations  # 0: no warmup (--enable_model_warmup=false)
        self.session_config = session_config
        # path -> BatchingParameters or None: how a version's requests are batched (read at load)
        self.batching_for = batching_for or (lambda path: None)
        self.tags = list(tags)  # --saved_model_tags
        self.prefer_tflite = prefer_tflite  # --prefer_tflite_model: model.tflite when a version has one
        self.tflite_interpreters = tflite_interpreters  # --num_tflite_pools
        self._lock = threading.RLock()
        self._poll_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self.config = config
        self.models = {}
        self._check_labels(config)  # at start-up nothing is loaded yet
        self.models = {c.name: ManagedModel(c) for c in config.model_config_list.config}

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
            if status is not None and status.state == END and status.error_code == grpc.StatusCode.OK:
                status = None  # unloaded earlier and wanted again (its folder came back): a new load
            if status is None or self._should_retry(status):
                self._load(model, version, status, os.path.join(model.base_path, on_disk[version]))
        if not unload:
            return
        # TF Serving's AvailabilityPreservingPolicy (core/availability_preserving_policy.cc): unload the
        # versions no longer wanted, lowest first, while no version is wanted (its folder is gone), or a
        # wanted one is serving, or more than one unwanted one is; so a failed new version never takes
        # down the one serving.
        with self._lock:
            unwanted = sorted(v for v, s in model.versions.items() if s.state == AVAILABLE and v not in wanted)
            wanted_serving = any(model.versions[v].state == AVAILABLE for v in wanted if v in model.versions)
            while unwanted and (not wanted or wanted_serving or len(unwanted) > 1):
                version = unwanted.pop(0)
                status = model.versions[version]
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

    def _load(self, model, version, status, path):
        status = status or VersionStatus(version)
        with self._lock:
            model.versions[version] = status
            status.state = LOADING
        try:
            if self.prefer_tflite and has_tflite_model(path):
                servable = TfLiteServable(model.name, version, path, self.tflite_interpreters)
            else:
                servable = Servable(model.name, version, path, self.session_config, self.tags)
            servable.batching = self.batching_for(path)
            if self.warmup_iterations:
                records = run_warmup(servable, self.warmup_iterations)
                if records:
                    log.info("warmed up %s version %d: %d warmup records", model.name, version, records)
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
    def _check_labels(self, config):
        """TF Serving's rule (`server_core.cc`, `UpdateModelVersionLabelMap`), checked
        against the versions serving *before* the config is applied: a label names an
        available version; `--allow_version_labels_for_unavailable_models` lets a new
        label, or one that keeps its version, name any version, never moves an
        existing label to an unavailable one."""
        for c in config.model_config_list.config:
            current = self.models.get(c.name)
            available = current.available() if current else {}
            old_labels = current.labels if current else {}
            for label, version in c.version_labels.items():
                moved = label in old_labels and old_labels[label] != version
                if version not in available and not (self.allow_labels_for_unavailable and not moved):
                    raise failed_precondition(
                        f"Request to assign label to version {version} of model {c.name}, "
                        "which is not currently available for inference"
                    )

    def reload(self, config):
        """Applies a new ModelServerConfig, or raises and keeps the old one."""
        validate_config(config)
        with self._poll_lock:
            self._check_labels(config)
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
