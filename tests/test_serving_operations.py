"""The server under change and stress: hot swaps under load, versions that fail
to load, config reloads (good and bad), start-up failures, dynamic batching,
graceful shutdown, and every model the project exports."""

import os
import signal
import threading
import time

import grpc
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from serving_helpers import config_text, http, reload, start_server, wait_for, y_of
from tensorflow_serving.config import model_server_config_pb2
from toy_models import export_half_plus_two

from keras_l11.serving.client import Client, ServingClientError

from conftest import ROOT, train_smoke_in_process


def test_hot_swap_under_load_fails_no_request(tmp_path):
    base = tmp_path / "m"
    export_half_plus_two(str(base), 1, b=2.0)
    server = start_server(
        ["--model_name=m", f"--model_base_path={base}", "--file_system_poll_wait_seconds=1"], tmp_path
    )
    results, errors, stop = {}, [], threading.Event()

    def hammer(key, protocol):
        with Client(server.rest if protocol == "rest" else server.grpc, protocol) as client:
            seen = results.setdefault(key, [])
            while not stop.is_set():
                try:
                    seen.append(y_of(client, "m"))
                except Exception as err:  # noqa: BLE001 - every failure counts
                    errors.append(repr(err))

    threads = [threading.Thread(target=hammer, args=(f"{p}{i}", p)) for p in ("rest", "grpc") for i in range(3)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.5)
        export_half_plus_two(str(base), 2, b=10.0)  # a new version appears under load
        wait_for(lambda: all(r and r[-1] == 10.5 for r in results.values()), 60, "every client to see version 2")
        time.sleep(1.0)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert errors == []
    for key, seen in results.items():
        assert set(seen) <= {2.5, 10.5}, key
        switch = seen.index(10.5)
        assert 2.5 in seen[:switch] and set(seen[switch:]) == {10.5}, f"{key} went back to the old version"
    states = {v["version"]: v["state"] for v in Client(server.rest).status("m")}
    assert states == {2: "AVAILABLE", 1: "END"}
    assert server.stop() == 0


def test_version_that_fails_to_load_leaves_previous_serving(tmp_path):
    base = tmp_path / "m"
    export_half_plus_two(str(base), 1, b=2.0)
    server = start_server(
        [
            "--model_name=m",
            f"--model_base_path={base}",
            "--file_system_poll_wait_seconds=1",
            "--load_retry_interval_micros=200000",
            "--max_num_load_retries=1",
        ],
        tmp_path,
    )
    broken = tmp_path / "staging"
    broken.mkdir()
    (broken / "saved_model.pb").write_bytes(b"this is not a SavedModel")
    os.rename(broken, base / "2")
    client = Client(server.rest)
    status = wait_for(
        lambda: next((s for s in client.status("m") if s["version"] == 2 and s["error_code"] != "OK"), None),
        30,
        "version 2's load error",
    )
    assert status["state"] == "END" and "Failed to load" in status["error_message"]
    assert y_of(client, "m") == 2.5  # version 1 still serves
    assert {s["version"]: s["state"] for s in client.status("m")}[1] == "AVAILABLE"
    assert server.stop() == 0


def test_reload_config_adds_and_removes_models_and_rejects_bad_ones(tmp_path):
    export_half_plus_two(str(tmp_path / "a"), 1, b=2.0)
    export_half_plus_two(str(tmp_path / "b"), 1, b=5.0)
    (tmp_path / "empty").mkdir()
    config = tmp_path / "models.config"
    config.write_text(config_text(("a", tmp_path / "a")))
    server = start_server([f"--model_config_file={config}"], tmp_path)
    client = Client(server.grpc, "grpc")
    assert y_of(client, "a") == 2.5

    reload(server, config_text(("b", tmp_path / "b")))
    reload(server, config_text(("b", tmp_path / "b", 'version_labels { key: "stable" value: 1 }')))
    assert y_of(client, "b") == 5.5
    assert float(client.predict("b", {"x": np.array([1.0], np.float32)}, label="stable")["y"][0]) == 5.5
    with pytest.raises(ServingClientError, match="NOT_FOUND"):
        y_of(client, "a")

    with pytest.raises(grpc.RpcError) as err:  # a model with no loadable version
        reload(server, config_text(("b", tmp_path / "b"), ("c", tmp_path / "empty")))
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE and "previous config keeps serving" in err.value.details()
    with pytest.raises(grpc.RpcError) as err:  # a label naming a version that is not loaded
        reload(server, config_text(("b", tmp_path / "b", 'version_labels { key: "stable" value: 9 }')))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert y_of(client, "b") == 5.5
    with pytest.raises(ServingClientError, match="NOT_FOUND"):
        y_of(client, "c")
    assert server.stop() == 0


def test_config_file_polling_keeps_old_config_on_a_bad_file(tmp_path):
    export_half_plus_two(str(tmp_path / "a"), 1, b=2.0)
    export_half_plus_two(str(tmp_path / "b"), 1, b=5.0)
    config = tmp_path / "models.config"
    config.write_text(config_text(("a", tmp_path / "a")))
    server = start_server([f"--model_config_file={config}", "--model_config_file_poll_wait_seconds=1"], tmp_path)
    client = Client(server.rest)
    config.write_text("model_config_list { config { name: ")  # truncated: does not parse
    wait_for(lambda: "previous config keeps serving" in server.log(), 20, "the reload error in the log")
    assert "Error parsing text-format tensorflow.serving.ModelServerConfig" in server.log()
    assert y_of(client, "a") == 2.5
    config.write_text(config_text(("a", tmp_path / "a"), ("b", tmp_path / "b")))
    wait_for(lambda: http("GET", f"{server.url}/v1/models/b")[0] == 200, 30, "model b")
    assert (y_of(client, "a"), y_of(client, "b")) == (2.5, 5.5)
    assert server.stop() == 0


def test_dynamic_batching_merges_concurrent_requests(tmp_path):
    base = tmp_path / "m"
    export_half_plus_two(str(base), 1, b=2.0)
    (tmp_path / "batching.config").write_text(
        "max_batch_size { value: 32 }\nbatch_timeout_micros { value: 100000 }\n"
        "max_enqueued_batches { value: 100 }\nnum_batch_threads { value: 2 }\n"
    )
    (tmp_path / "monitoring.config").write_text('prometheus_config { enable: true, path: "/metrics" }\n')
    server = start_server(
        [
            "--model_name=m",
            f"--model_base_path={base}",
            "--enable_batching=true",
            f"--batching_parameters_file={tmp_path / 'batching.config'}",
            f"--monitoring_config_file={tmp_path / 'monitoring.config'}",
        ],
        tmp_path,
    )
    clients = [Client(server.grpc, "grpc") for _ in range(16)]
    barrier, answers = threading.Barrier(16), {}

    def one(i):
        barrier.wait()
        answers[i] = clients[i].predict("m", {"x": np.array([float(i), float(i) + 0.5], np.float32)})["y"]

    threads = [threading.Thread(target=one, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for i in range(16):  # every request gets its own rows back
        np.testing.assert_array_equal(answers[i], [0.5 * i + 2, 0.5 * (i + 0.5) + 2])
    import urllib.request

    text = urllib.request.urlopen(f"{server.url}/metrics").read().decode()
    counts = {
        line.split()[0].rsplit(":", 1)[-1]: int(line.split()[1])
        for line in text.splitlines()
        if line.startswith(":tensorflow:serving:batching:")
    }
    assert counts["requests_total"] == 16 and counts["rows_total"] == 32
    assert counts["batches_total"] <= 8  # merged: at least two requests a batch on average
    assert server.stop() == 0


def test_sigterm_lets_the_in_flight_request_finish(tmp_path):
    import socket

    base = tmp_path / "m"
    export_half_plus_two(str(base), 1, b=2.0)
    server = start_server(["--model_name=m", f"--model_base_path={base}"], tmp_path)
    body = b'{"instances": [1.0, 2.0, 3.0]}'
    with socket.create_connection(("127.0.0.1", server.rest_port), timeout=30) as conn:
        conn.sendall(
            b"POST /v1/models/m:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body[:10]
        )
        time.sleep(0.5)  # the request is being read: in flight
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        conn.sendall(body[10:])
        response = b""
        while b"\r\n\r\n" not in response or not response.rstrip().endswith(b"}"):
            chunk = conn.recv(4096)
            if not chunk:
                break
            response += chunk
    assert response.startswith(b"HTTP/1.1 200") and b'"predictions":[2.5,3.0,3.5]' in response
    assert server.proc.wait(30) == 0
    assert "finishing in-flight requests" in server.log()


@pytest.fixture(scope="module")
def project_exports(smoke_ntm_copy):
    """The project's exports, registered in one serving config: the NTM and its LSTM baseline."""
    out = smoke_ntm_copy["dir"]
    train_smoke_in_process(out, "lstm", "--steps", "50")
    return out


def test_every_project_export_serves_the_in_process_numbers(project_exports, tmp_path):
    from keras_l11.ntm.tasks import CopyTask

    out = project_exports
    config = model_server_config_pb2.ModelServerConfig()
    text_format.Parse((out / "serving" / "models.config").read_text(), config)
    names = [c.name for c in config.model_config_list.config]
    assert sorted(names) == ["lstm_copy", "ntm_copy"]
    server = start_server([f"--model_config_file={out / 'serving' / 'models.config'}"], tmp_path)
    inputs = np.stack([CopyTask(max_length=5).example(seed=s, length=4)[0] for s in range(3)])
    for c in config.model_config_list.config:
        assert os.path.isabs(c.base_path)
        version = max(int(v) for v in os.listdir(c.base_path) if v.isdigit())
        local = tf.saved_model.load(os.path.join(c.base_path, str(version))).signatures["serving_default"]
        want = local(sequence=tf.constant(inputs))["probabilities"].numpy()
        for address, protocol in ((server.rest, "rest"), (server.grpc, "grpc")):
            got = Client(address, protocol).predict(c.name, {"sequence": inputs})["probabilities"]
            assert got.dtype == np.float32
            np.testing.assert_array_equal(got, want, err_msg=f"{c.name} over {protocol}")
    assert server.stop() == 0


def test_the_shipped_batching_config_batches_ntm_sequences_of_mixed_lengths(project_exports, tmp_path):
    """With serving/batching.config (pad_variable_length_inputs, as TF Serving pads:
    batching_util.cc, AddPadding), concurrent NTM requests of different lengths share
    batches and all succeed; each answer comes back at its batch's length and its own
    steps equal the unbatched answer (the model is causal)."""
    import urllib.request

    from keras_l11.ntm.tasks import CopyTask

    out = project_exports
    server = start_server(
        [
            f"--model_config_file={out / 'serving' / 'models.config'}",
            "--enable_batching=true",
            f"--batching_parameters_file={os.path.join(ROOT, 'serving', 'batching.config')}",
            f"--monitoring_config_file={os.path.join(ROOT, 'serving', 'monitoring.config')}",
        ],
        tmp_path,
    )
    base = next(c for c in _config(out).model_config_list.config if c.name == "ntm_copy").base_path
    version = max(int(v) for v in os.listdir(base) if v.isdigit())
    local = tf.saved_model.load(os.path.join(base, str(version))).signatures["serving_default"]
    sequences = [CopyTask(max_length=10).example(seed=s, length=2 + s % 8)[0][None] for s in range(24)]
    wants = [local(sequence=tf.constant(s))["probabilities"].numpy() for s in sequences]
    clients = [Client(server.grpc, "grpc") for _ in range(8)]
    answers = {}

    def ask(i):
        for j in range(i, len(sequences), 8):
            answers[j] = clients[i].predict("ntm_copy", {"sequence": sequences[j]})["probabilities"]

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(answers) == len(sequences)
    for j, want in enumerate(wants):
        got = answers[j]
        assert got.shape[1] >= want.shape[1]
        np.testing.assert_allclose(got[:, : want.shape[1]], want, atol=1e-5, err_msg=f"sequence {j}")
    text = urllib.request.urlopen(f"{server.url}/monitoring/prometheus/metrics").read().decode()
    counts = {
        line.split()[0].rsplit(":", 1)[-1]: int(line.split()[1])
        for line in text.splitlines()
        if line.startswith(":tensorflow:serving:batching:")
    }
    assert counts["requests_total"] == 24 and counts["batches_total"] < 24  # some batches held several lengths
    assert server.stop() == 0


def _config(out):
    config = model_server_config_pb2.ModelServerConfig()
    text_format.Parse((out / "serving" / "models.config").read_text(), config)
    return config
