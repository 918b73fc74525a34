"""Serving benchmark: latency and throughput of the local TF-Serving-compatible server.

Prints one table:
  - latency p50/p99 of the in-process SavedModel call, REST and gRPC, for the
    tiny half-plus-two model and for the NTM export (one copy sequence);
  - throughput at 1, 8 and 64 concurrent gRPC clients, batching off and on
    (`serving/batching.config`), for both models;
  - errors during a soak run at 64 concurrent clients (REST and gRPC mixed);
  - the first request after a load, with and without SavedModel warmup;
  - requests past their deadline: how long until the answer, and whether the
    server keeps computing (CPU seconds and resident memory after the answer);
  - NTM traffic of mixed lengths with batching off, padded and unpadded;
  - one REST request of a million rows, with and without batching's row limit;
  - the soak's server memory and threads before and after.

Each server is a separate `python -m serving` process on 127.0.0.1, as in a
deployment; clients are threads of this process with one connection each.

    python -m benchmarks.serving [--soak_seconds 60] [--seconds 8]
"""

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import numpy as np

from benchmarks.common import write_report
from keras_l11 import command_line

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def toy_models():
    """`tests/toy_models.py`, loaded by its path: a test fixture, not part of the
    package (and `tests` is a name that other installed packages also take)."""
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "toy_models.py")
    spec = importlib.util.spec_from_file_location("toy_models", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def export_models(tmp):
    """The tiny model and an NTM of the paper's size (100 units, 128 x 20), untrained:
    latency does not depend on the weights."""

    from keras_l11.ntm.export import ntm_signatures
    from keras_l11.ntm.models import NeuralTuringMachine
    from keras_l11.ntm.tasks import CopyTask
    from keras_l11.training.export import export_saved_model

    toy_models().export_half_plus_two(os.path.join(tmp, "tiny"), 1)
    task = CopyTask()
    model = NeuralTuringMachine(task.input_width, task.output_width)
    export_saved_model(model, os.path.join(tmp, "ntm"), ntm_signatures(model))
    with open(os.path.join(tmp, "models.config"), "w") as f:
        f.write(
            "model_config_list {\n"
            f'  config {{ name: "tiny" base_path: "{tmp}/tiny" model_platform: "tensorflow" }}\n'
            f'  config {{ name: "ntm" base_path: "{tmp}/ntm" model_platform: "tensorflow" }}\n}}\n'
        )
    sequence = task.example(seed=1, length=20)[0][None]  # [1, 41, 9]
    return {"tiny": {"x": np.array([1.0], np.float32)}, "ntm": {"sequence": sequence.astype(np.float32)}}


def start_server(tmp, batching, extra=(), config="models.config"):
    """`batching`: False, True (the shipped serving/batching.config) or a config file's path."""
    grpc_port, rest_port = free_port(), free_port()
    args = [
        sys.executable,
        "-m",
        "serving",
        f"--port={grpc_port}",
        f"--rest_api_port={rest_port}",
        f"--model_config_file={tmp}/{config}",
        "--file_system_poll_wait_seconds=0",
        *extra,
    ]
    if batching:
        path = batching if isinstance(batching, str) else f"{ROOT}/serving/batching.config"
        args += ["--enable_batching=true", f"--batching_parameters_file={path}"]
    proc = subprocess.Popen(
        args,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=ROOT),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{rest_port}/v1/models/_ready_probe_", timeout=1)
            return proc, grpc_port, rest_port
        except urllib.error.HTTPError:  # the REST port answers (404 for the probe): start-up is complete
            return proc, grpc_port, rest_port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


class RestCaller:
    """One keep-alive HTTP connection, the body encoded once."""

    def __init__(self, port, model, inputs):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.path = f"/v1/models/{model}:predict"
        self.body = json.dumps({"inputs": {k: v.tolist() for k, v in inputs.items()}}).encode()

    def __call__(self):
        self.conn.request("POST", self.path, self.body, {"Content-Type": "application/json"})
        response = self.conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(data[:200])
        return data


class GrpcCaller:
    def __init__(self, port, model, inputs):
        import grpc
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.stub = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        self.request = predict_pb2.PredictRequest()
        self.request.model_spec.name = model
        for k, v in inputs.items():
            self.request.inputs[k].CopyFrom(tf.make_tensor_proto(v))

    def __call__(self):
        return self.stub.Predict(self.request, timeout=60)


def latency(call, n):
    for _ in range(10):
        call()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.99 * len(times)))]


def load(make_caller, clients, seconds):
    """Requests per second and errors with `clients` concurrent callers."""
    callers = [make_caller(i) for i in range(clients)]
    counts, errors, stop = [0] * clients, [0] * clients, threading.Event()
    kinds = {}
    barrier = threading.Barrier(clients + 1)

    def worker(i):
        barrier.wait()
        while not stop.is_set():
            try:
                callers[i]()
                counts[i] += 1
            except Exception as err:  # noqa: BLE001 - counted, and the kinds reported
                errors[i] += 1
                kinds[f"{type(err).__name__}: {str(err)[:120]}"] = (
                    kinds.get(f"{type(err).__name__}: {str(err)[:120]}", 0) + 1
                )

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(120)
    elapsed = time.perf_counter() - start
    for kind, n in kinds.items():
        print(f"  {n} x {kind}", file=sys.stderr)
    return sum(counts) / elapsed, sum(errors), sum(counts)


def process_usage(pid):
    """(CPU seconds so far, resident GiB) of process `pid`, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    with open(f"/proc/{pid}/status") as f:
        rss_kib = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), rss_kib / 2**20


def warmup_rows(tmp, inputs):
    """Seconds until the server answers, then the first and second NTM request (ms),
    with `--enable_model_warmup` true and false (the export carries one warmup
    request per signature)."""
    rows = []
    for warmup in (True, False):
        started = time.perf_counter()
        proc, grpc_port, rest_port = start_server(tmp, False, [f"--enable_model_warmup={str(warmup).lower()}"])
        ready = time.perf_counter() - started
        try:
            call = GrpcCaller(grpc_port, "ntm", inputs["ntm"])
            times = []
            for _ in range(2):
                start = time.perf_counter()
                call()
                times.append((time.perf_counter() - start) * 1000)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
        rows.append(["on" if warmup else "off", f"{ready:.1f}", f"{times[0]:.1f}", f"{times[1]:.1f}"])
    return rows


def deadline_rows(tmp, rows_per_request=100_000):
    """A request that would run for hours, sent with a 1 s deadline over REST
    (`--rest_api_timeout_in_ms=1000`) and gRPC: the answer's status and time, then
    the server's CPU seconds and resident memory over the 3 s after the answer."""
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    toy_models().export_slow_model(os.path.join(tmp, "slow"))
    with open(os.path.join(tmp, "slow.config"), "w") as f:
        f.write(
            f'model_config_list {{ config {{ name: "slow" base_path: "{tmp}/slow" model_platform: "tensorflow" }} }}\n'
        )
    x = np.full((rows_per_request, 8), 0.1, np.float32)
    proc, grpc_port, rest_port = start_server(tmp, False, ["--rest_api_timeout_in_ms=1000"], config="slow.config")
    rows = []
    try:
        _, rss_idle = process_usage(proc.pid)

        def rest():
            body = json.dumps({"inputs": {"x": x.tolist(), "steps": 2_000_000_000}}).encode()
            conn = http.client.HTTPConnection("127.0.0.1", rest_port, timeout=600)
            conn.request("POST", "/v1/models/slow:predict", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            return str(response.status)

        def grpc_call():
            request = predict_pb2.PredictRequest()
            request.model_spec.name = "slow"
            request.inputs["x"].CopyFrom(tf.make_tensor_proto(x))
            request.inputs["steps"].CopyFrom(tf.make_tensor_proto(np.int32(2_000_000_000)))
            with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
                try:
                    prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=1.0)
                    return "OK"
                except grpc.RpcError as err:
                    return err.code().name

        for name, call in (("REST, --rest_api_timeout_in_ms=1000", rest), ("gRPC, client deadline 1 s", grpc_call)):
            start = time.perf_counter()
            status = call()
            answered = time.perf_counter() - start
            cpu_before, _ = process_usage(proc.pid)
            time.sleep(3.0)
            cpu_after, rss_after = process_usage(proc.pid)
            rows.append(
                [
                    name,
                    status,
                    f"{answered:.2f}",
                    f"{cpu_after - cpu_before:.2f}",
                    f"{rss_idle:.2f}",
                    f"{rss_after:.2f}",
                ]
            )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    return rows


class MixedLengthCaller:
    """gRPC NTM requests whose copy length changes with every call (5 to 20), as real
    traffic's would: under batching, requests of different lengths meet in one batch."""

    def __init__(self, port, seed):
        from keras_l11.ntm.tasks import CopyTask

        task, rng = CopyTask(), np.random.default_rng(seed)
        self.callers = [
            GrpcCaller(port, "ntm", {"sequence": task.example(seed=int(seed * 100 + i), length=int(n))[0][None]})
            for i, n in enumerate(rng.integers(5, 21, size=8))
        ]
        self.i = 0

    def __call__(self):
        self.i += 1
        return self.callers[self.i % len(self.callers)]()


def mixed_length_rows(tmp, seconds):
    """NTM traffic of mixed lengths at 8 and 64 clients: batching off, the shipped
    config (padding on), and the same config with padding off, as TF Serving's
    default is."""
    unpadded = os.path.join(tmp, "batching-unpadded.config")
    with open(f"{ROOT}/serving/batching.config") as f, open(unpadded, "w") as out:
        out.write("".join(line for line in f if not line.startswith("pad_variable_length_inputs")))
    rows = []
    for label, batching in (
        ("off", False),
        ("serving/batching.config (padding on)", True),
        ("same, padding off", unpadded),
    ):
        proc, grpc_port, _ = start_server(tmp, batching)
        try:
            for clients in (8, 64):
                rps, errors, total = load(lambda i, port=grpc_port: MixedLengthCaller(port, i), clients, seconds)
                rows.append([label, clients, f"{rps:.1f}", f"{errors} of {errors + total}"])
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    return rows


def big_request_rows(tmp, rows_per_request=1_000_000):
    """One REST request of a million rows to the tiny model: refused before any work
    under batching (max_batch_size 64), run without; the answer's status, time and the
    server's resident memory before and after."""
    body = json.dumps({"instances": [1.0] * rows_per_request}).encode()
    rows = []
    for label, batching in (("batching on (max_batch_size 64)", True), ("batching off", False)):
        proc, _, rest_port = start_server(tmp, batching)
        try:
            _, rss_before = process_usage(proc.pid)
            conn = http.client.HTTPConnection("127.0.0.1", rest_port, timeout=600)
            start = time.perf_counter()
            conn.request("POST", "/v1/models/tiny:predict", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            data = response.read()
            answered = time.perf_counter() - start
            _, rss_after = process_usage(proc.pid)
            status = f"{response.status}" + (f" {json.loads(data)['error'][:48]}" if response.status != 200 else "")
            rows.append(
                [label, f"{len(body) / 2**20:.1f}", status, f"{answered:.2f}", f"{rss_before:.2f}", f"{rss_after:.2f}"]
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    return rows


def thread_count(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Threads:"))


def main(argv=None):
    p = argparse.ArgumentParser(
        prog=f"python -m {__spec__.name}", description=__doc__, formatter_class=command_line.HelpFormatter
    )
    p.add_argument("--latency_requests", type=int, default=300)
    p.add_argument("--seconds", type=float, default=8.0, help="per throughput measurement")
    p.add_argument("--soak_seconds", type=float, default=60.0)
    args = p.parse_args(argv)

    import tensorflow as tf

    from keras_l11.training.harness import format_table

    tmp = tempfile.mkdtemp(prefix="serving-bench-")
    inputs = export_models(tmp)
    rows = []
    local = {m: tf.saved_model.load(f"{tmp}/{m}/1").signatures["serving_default"] for m in inputs}
    proc, grpc_port, rest_port = start_server(tmp, batching=False)
    try:
        for model, x in inputs.items():
            tensors = {k: tf.constant(v) for k, v in x.items()}
            n = args.latency_requests if model == "tiny" else max(args.latency_requests // 5, 30)
            results = {
                "in-process": latency(lambda f=local[model], t=tensors: f(**t), n),
                "REST": latency(RestCaller(rest_port, model, x), n),
                "gRPC": latency(GrpcCaller(grpc_port, model, x), n),
            }
            base = results["in-process"][0]
            for path, (p50, p99) in results.items():
                rows.append([model, path, f"{p50:.3f}", f"{p99:.3f}", f"{p50 - base:+.3f}"])
        latency_table = format_table(["model", "path", "p50 ms", "p99 ms", "p50 over in-process"], rows)
        print(latency_table, flush=True)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)

    rows, throughput = [], {}
    for batching in (False, True):
        proc, grpc_port, rest_port = start_server(tmp, batching)
        try:
            for model, x in inputs.items():
                for clients in (1, 8, 64):
                    rps, errors, _ = load(
                        lambda i, m=model, v=x, port=grpc_port: GrpcCaller(port, m, v), clients, args.seconds
                    )
                    throughput[(model, clients, batching)] = rps
                    rows.append([model, clients, "on" if batching else "off", f"{rps:.1f}", errors])
            if batching:

                def mixed(i, grpc_port=grpc_port, rest_port=rest_port):
                    return (
                        GrpcCaller(grpc_port, "tiny", inputs["tiny"])
                        if i % 2
                        else RestCaller(rest_port, "tiny", inputs["tiny"])
                    )

                _, rss_before = process_usage(proc.pid)
                threads_before = thread_count(proc.pid)
                soak_rps, soak_errors, soak_total = load(mixed, 64, args.soak_seconds)
                _, rss_after = process_usage(proc.pid)
                threads_after = thread_count(proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    for row in rows:
        if row[2] == "on":
            row.append(f"{throughput[(row[0], row[1], True)] / throughput[(row[0], row[1], False)]:.2f}x")
        else:
            row.append("")
    soak = (
        f"64 concurrent clients (32 REST, 32 gRPC), tiny model, batching on, {args.soak_seconds:.0f} s: "
        f"{soak_total} requests, {soak_rps:.1f}/s, {soak_errors} errors; server memory {rss_before:.2f} GiB "
        f"before, {rss_after:.2f} GiB after; threads {threads_before} before, {threads_after} after"
    )
    print(soak, flush=True)
    mixed_rows = format_table(["batching", "clients", "requests/s", "errors"], mixed_length_rows(tmp, args.seconds))
    print(mixed_rows, flush=True)
    big = format_table(
        ["server", "body MiB", "answer", "seconds to answer", "RSS GiB before", "RSS GiB after"],
        big_request_rows(tmp),
    )
    print(big, flush=True)
    warmup = format_table(
        ["warmup", "seconds to ready", "first request ms", "second request ms"], warmup_rows(tmp, inputs)
    )
    print(warmup, flush=True)
    deadlines = format_table(
        [
            "request (100,000 rows, 2e9 steps)",
            "answer",
            "seconds to answer",
            "server CPU s in the next 3 s",
            "RSS GiB before",
            "RSS GiB after",
        ],
        deadline_rows(tmp),
    )
    print(deadlines, flush=True)
    write_report(
        "serving",
        [
            ("Latency, one request at a time (ms)", latency_table),
            (
                "Throughput over gRPC (batching: serving/batching.config)",
                format_table(["model", "clients", "batching", "requests/s", "errors", "speed-up"], rows),
            ),
            ("Soak", soak),
            ("The NTM's first request after its version loads (gRPC), with and without SavedModel warmup", warmup),
            ("Requests past their deadline (the slow toy model, batching off)", deadlines),
            ("NTM traffic of mixed copy lengths (5 to 20) over gRPC", mixed_rows),
            ("One REST request of a million rows (the tiny model)", big),
        ],
    )


if __name__ == "__main__":
    main()
