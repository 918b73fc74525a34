"""Request counters and latency histograms in Prometheus' text format,
under TF Serving's metric names."""

import bisect
import threading

BUCKETS_US = [10 * 1.8**i for i in range(33)]  # 10 us .. ~1.3e9 us, like TF Serving's exponential buckets


class Metrics:
    def __init__(self):
        self._lock = threading.Lock()
        self._counts = {}
        self._latency = {}
        self._batching = [0, 0, 0]  # batches, requests, rows

    def record(self, model, api, entrypoint, status, seconds):
        key = (model, api, entrypoint, status)
        lat_key = (model, api, entrypoint)
        micros = seconds * 1e6
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1
            hist = self._latency.setdefault(lat_key, [[0] * (len(BUCKETS_US) + 1), 0.0, 0])
            hist[0][bisect.bisect_left(BUCKETS_US, micros)] += 1
            hist[1] += micros
            hist[2] += 1

    def record_batch(self, requests, rows):
        with self._lock:
            self._batching[0] += 1
            self._batching[1] += requests
            self._batching[2] += rows

    def prometheus_text(self, gauges=()):
        """The exposition text; `gauges` are extra `(name, labels, value)` rows."""
        lines = ["# TYPE :tensorflow:serving:request_count counter"]
        with self._lock:
            counts = dict(self._counts)
            latency = {k: ([*v[0]], v[1], v[2]) for k, v in self._latency.items()}
        for (model, api, entry, status), n in sorted(counts.items()):
            lines.append(
                f':tensorflow:serving:request_count{{model_name="{model}",API="{api}",'
                f'entrypoint="{entry}",status="{status}"}} {n}'
            )
        lines.append("# TYPE :tensorflow:serving:request_latency histogram")
        for (model, api, entry), (buckets, total, count) in sorted(latency.items()):
            labels = f'model_name="{model}",API="{api}",entrypoint="{entry}"'
            cumulative = 0
            for bound, n in zip(BUCKETS_US + [float("inf")], buckets):
                cumulative += n
                le = "+Inf" if bound == float("inf") else f"{bound:.6g}"
                lines.append(f':tensorflow:serving:request_latency_bucket{{{labels},le="{le}"}} {cumulative}')
            lines.append(f":tensorflow:serving:request_latency_sum{{{labels}}} {total:.6g}")
            lines.append(f":tensorflow:serving:request_latency_count{{{labels}}} {count}")
        batches, requests, rows = self._batching
        for name, value in (("batches", batches), ("requests", requests), ("rows", rows)):
            lines.append(f"# TYPE :tensorflow:serving:batching:{name}_total counter")
            lines.append(f":tensorflow:serving:batching:{name}_total {value}")
        if gauges:
            lines.append("# TYPE :tensorflow:serving:model_version_available gauge")
            for name, labels, value in gauges:
                label_text = ",".join(f'{k}="{v}"' for k, v in labels.items())
                lines.append(f"{name}{{{label_text}}} {value}")
        return "\n".join(lines) + "\n"
