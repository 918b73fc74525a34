"""Serving benchmark: latency and throughput of the local TF-Serving-compatible server.

Prints one table:
  - latency p50/p99 of the in-process SavedModel call, REST and gRPC, for the
    tiny half-plus-two model and for the NTM export (one copy sequence);
  - throughput at 1, 8 and 64 concurrent gRPC clients, batching off and on
    (`serving/batching.config`), for both models;
  - errors during a soak run at 64 concurrent clients (REST and gRPC mixed).

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


def start_server(tmp, batching):
    grpc_port, rest_port = free_port(), free_port()
    args = [
        sys.executable,
        "-m",
        "serving",
        f"--port={grpc_port}",
        f"--rest_api_port={rest_port}",
        f"--model_config_file={tmp}/models.config",
        "--file_system_poll_wait_seconds=0",
    ]
    if batching:
        args += ["--enable_batching=true", f"--batching_parameters_file={ROOT}/serving/batching.config"]
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
            urllib.request.urlopen(f"http://127.0.0.1:{rest_port}/v1/models/tiny", timeout=1)
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

                soak_rps, soak_errors, soak_total = load(mixed, 64, args.soak_seconds)
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
        f"{soak_total} requests, {soak_rps:.1f}/s, {soak_errors} errors"
    )
    write_report(
        "serving",
        [
            ("Latency, one request at a time (ms)", latency_table),
            (
                "Throughput over gRPC (batching: serving/batching.config)",
                format_table(["model", "clients", "batching", "requests/s", "errors", "speed-up"], rows),
            ),
            ("Soak", soak),
        ],
    )


if __name__ == "__main__":
    main()
