"""What REST and gRPC share: resolve the servable, check, run (batched or
not), count. Each front end only translates its wire format."""

import time

from keras_l11.serving.batching import Batcher
from keras_l11.serving.errors import ServingError
from keras_l11.serving.manager import AVAILABLE, ModelManager
from keras_l11.serving.monitoring import Metrics


class Inference:
    def __init__(self, manager: ModelManager, batcher: Batcher | None = None, metrics: Metrics | None = None):
        self.manager = manager
        self.batcher = batcher
        self.metrics = metrics or Metrics()

    def predict(
        self, name, version, label, signature_name, decode_inputs, output_filter=(), entrypoint="REST", timeout_ms=0
    ):
        """Resolves the servable once, decodes the inputs against its signature
        (`decode_inputs(signature) -> {name: array}`), runs, and counts. A positive
        `timeout_ms` is the run's deadline (TF Serving's `RunOptions.timeout_in_ms`):
        past it the run is cancelled and the request fails with DEADLINE_EXCEEDED.

        Returns `(servable, signature, outputs)`.
        """
        with self._count(name, "predict", entrypoint):
            servable = self.manager.resolve(name, version, label)
            signature = servable.signature(signature_name)
            inputs = decode_inputs(signature)
            servable.check_request(signature, inputs, output_filter)
            outputs = self._runner(servable)(signature, inputs, timeout_ms)
            if output_filter:
                outputs = {k: v for k, v in outputs.items() if k in output_filter}
            return servable, signature, outputs

    def classify(self, name, version, label, signature_name, examples, entrypoint="REST", timeout_ms=0):
        with self._count(name, "classify", entrypoint):
            servable = self.manager.resolve(name, version, label)
            signature = servable.signature(signature_name)
            return servable, signature, servable.classify(signature, examples, timeout_ms, self._runner(servable))

    def regress(self, name, version, label, signature_name, examples, entrypoint="REST", timeout_ms=0):
        with self._count(name, "regress", entrypoint):
            servable = self.manager.resolve(name, version, label)
            signature = servable.signature(signature_name)
            return servable, signature, servable.regress(signature, examples, timeout_ms, self._runner(servable))

    def _runner(self, servable):
        """How a version's signatures run: through the batcher when batching applies to
        it (every signature of a batched model is batched, as in TF Serving), else directly."""
        params = servable.batching
        if self.batcher is None or params is None:
            return servable.call
        return lambda signature, inputs, timeout_ms: self.batcher.run(servable, signature, inputs, timeout_ms, params)

    def metadata(self, name, version, label):
        servable = self.manager.resolve(name, version, label)
        return servable, servable.signature_defs

    def status(self, name, version, label):
        return self.manager.status(name, version, label)

    def gauges(self):
        rows = []
        for model in list(self.manager.models.values()):
            for v, s in list(model.versions.items()):
                rows.append(
                    (
                        ":tensorflow:serving:model_version_available",
                        {"model_name": model.name, "version": v},
                        int(s.state == AVAILABLE),
                    )
                )
        return rows

    def _count(self, name, api, entrypoint):
        # Only configured names become metric labels: a client must not be able
        # to grow the metric set without bound by inventing model names.
        known = name if name in self.manager.models else "(unknown)"
        return _Counted(self.metrics, known, api, entrypoint)


class _Counted:
    def __init__(self, metrics, name, api, entrypoint):
        self.metrics, self.name, self.api, self.entrypoint = metrics, name, api, entrypoint

    def __enter__(self):
        self.start = time.perf_counter()

    def __exit__(self, kind, err, tb):
        if err is None:
            status = "OK"
        elif isinstance(err, ServingError):
            status = err.code.name
        else:
            status = "INTERNAL"
        self.metrics.record(self.name, self.api, self.entrypoint, status, time.perf_counter() - self.start)
        return False
