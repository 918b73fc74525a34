"""What TF Serving's stock binary does where production differs from a permissive
local server: the config rules at start-up, labels on reload, version folders as
it reads them, a reload retried until it applies; plus the configs we ship for it.

Each test cites the TF Serving source it is written from, and runs against our
server and, when it is on PATH, a real `tensorflow_model_server` given the same
files (`--allow_version_labels...` and the other flags are TF Serving's own).
"""

import os
import shutil
import subprocess
import sys
import time
import urllib.request

import grpc
import numpy as np
import pytest
import tensorflow as tf
import yaml
from serving_helpers import SERVERS, binary_for, config_text, http, reload, start_server, wait_for, y_of
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2, prediction_service_pb2_grpc
from toy_models import export_half_plus_two, export_running_sum, export_slow_model

from keras_l11.serving import model_config
from keras_l11.serving.client import Client, ServingClientError
from keras_l11.serving.config_rules import validate_config
from keras_l11.serving.errors import ServingError

from conftest import ROOT, free_ports

ONE = {"x": np.array([1.0], np.float32)}


def start_up_output(binary, args, tmp_path):
    """`(exit code, stdout + stderr)` of a server that should refuse to start."""
    command = [binary] if binary else [sys.executable, "-m", "serving"]
    (port,) = free_ports(1)  # TF Serving refuses --port=0 before it reads the config
    proc = subprocess.run(
        [*command, f"--port={port}", *args],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=ROOT),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.returncode, proc.stdout + proc.stderr


# server_core.cc (ValidateModelConfigList, GetPlatform, CreateStoragePathRoutes, UpdateModelVersionLabelMap),
# core/server_request_logger.cc (CreateUpdateRequestLocked), server.cc (BuildAndStart): the config is refused
# before anything serves.
BAD_START = {
    "unparseable": ("model_config_list { config { name: ", (), "Error parsing text-format"),
    "relative base path": (
        config_text(("a", "a")),
        (),
        "Expected model a to have an absolute path or URI; got base_path()=a",
    ),
    "listed twice": (
        config_text(("a", "%(a)s"), ("a", "%(a)s")),
        (),
        "Illegal to list model a multiple times in config list",
    ),
    "no platform": (
        'model_config_list { config { name: "a" base_path: "%(a)s" } }',
        (),
        "nor ModelServerConfig::model_platform, model name is a",
    ),
    "unknown platform": (
        'model_config_list { config { name: "a" base_path: "%(a)s" model_platform: "pytorch" } }',
        (),
        "Model a requests unsupported platform pytorch",
    ),
    "logging_config": (
        config_text(("a", "%(a)s", "logging_config { sampling_config { sampling_rate: 1.0 } }")),
        (),
        "No request-logger-creator provided.",
    ),
    "labels at start-up": (
        config_text(("a", "%(a)s", 'version_labels { key: "stable" value: 1 }')),
        (),
        "Request to assign label to version 1 of model a, which is not currently available for inference",
    ),
    "no gRPC port or socket": (
        config_text(("a", "%(a)s")),
        ("--port=0",),
        "At least one of server_options.grpc_port or server_options.grpc_socket_path must be set.",
    ),
    "ALTS and TLS at once": (
        config_text(("a", "%(a)s")),
        ("--use_alts_credentials=true", "--ssl_config_file=ssl.config"),
        "Either use_alts_credentials must be false or ssl_config_file must be empty.",
    ),
    "batching file without batching": (
        config_text(("a", "%(a)s")),
        ("--batching_parameters_file=batching.config",),
        "batching_parameters_file is set without setting server_options.enable_batching to true",
    ),
}


@pytest.mark.parametrize("kind", SERVERS)
@pytest.mark.parametrize("case", sorted(BAD_START))
def test_a_config_tf_serving_refuses_stops_start_up_with_its_message(kind, case, tmp_path):
    binary = binary_for(kind)
    text, args, message = BAD_START[case]
    export_half_plus_two(str(tmp_path / "a"), 1)
    (tmp_path / "models.config").write_text(text % {"a": tmp_path / "a"} if "%(a)s" in text else text)
    (tmp_path / "batching.config").write_text("max_batch_size { value: 8 }\n")
    code, output = start_up_output(binary, [f"--model_config_file={tmp_path / 'models.config'}", *args], tmp_path)
    assert code != 0 and message in output, output[-2000:]


@pytest.mark.parametrize("kind", SERVERS)
def test_labels_on_reload_follow_tf_servings_rule(kind, tmp_path):
    """server_core.cc, UpdateModelVersionLabelMap: checked against the versions serving
    before the reload; with --allow_version_labels_for_unavailable_models a new label
    may name any version, an existing label may not move to an unavailable one."""
    binary = binary_for(kind)
    for version in (1, 2):
        export_half_plus_two(str(tmp_path / "m"), version, b=float(version + 1))
    policy = "model_version_policy { specific { versions: 1 } }"
    (tmp_path / "models.config").write_text(config_text(("m", tmp_path / "m", policy)))
    server = start_server(
        [f"--model_config_file={tmp_path / 'models.config'}", "--allow_version_labels_for_unavailable_models=true"],
        tmp_path,
        binary=binary,
    )
    client = Client(server.grpc, "grpc")
    reload(server, config_text(("m", tmp_path / "m", policy + ' version_labels { key: "stable" value: 1 }')))
    assert float(client.predict("m", ONE, label="stable")["y"][0]) == 2.5
    # A new label may name version 2, which does not serve (the flag allows it) ...
    labels = ' version_labels { key: "stable" value: 1 } version_labels { key: "canary" value: 2 }'
    reload(server, config_text(("m", tmp_path / "m", policy + labels)))
    with pytest.raises(ServingClientError, match="NOT_FOUND"):
        client.predict("m", ONE, label="canary")
    # ... but "stable" may not move to it.
    with pytest.raises(grpc.RpcError) as err:
        reload(server, config_text(("m", tmp_path / "m", policy + ' version_labels { key: "stable" value: 2 }')))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "Request to assign label to version 2 of model m" in err.value.details()
    assert float(client.predict("m", ONE, label="stable")["y"][0]) == 2.5
    assert server.stop() == 0


@pytest.mark.parametrize("kind", SERVERS)
def test_version_folders_are_read_as_tf_serving_reads_them(kind, tmp_path):
    """file_system_storage_path_source.cc: a folder is a version when its name parses as
    an integer (ParseVersionNumber), so `007` is version 7, read from `.../007` (TF Serving's
    own test data is in `00000123` folders: tensorflow_model_server_test.py); when the
    serving version's folder disappears and none is left, it is unloaded
    (core/availability_preserving_policy.cc) and requests get 404."""
    binary = binary_for(kind)
    export_half_plus_two(str(tmp_path / "m"), 1, b=2.0)
    os.rename(tmp_path / "m" / "1", tmp_path / "m" / "007")
    server = start_server(
        ["--model_name=m", f"--model_base_path={tmp_path / 'm'}", "--file_system_poll_wait_seconds=1"],
        tmp_path,
        binary=binary,
    )
    status, body = http("GET", f"{server.url}/v1/models/m")
    assert status == 200 and [v["version"] for v in body["model_version_status"]] == ["7"]
    client = Client(server.rest)
    assert y_of(client, "m") == 2.5
    shutil.rmtree(tmp_path / "m" / "007")
    wait_for(lambda: http("POST", f"{server.url}/v1/models/m:predict", {"instances": [1.0]})[0] == 404, 30, "404")
    assert server.stop() == 0


@pytest.mark.parametrize("kind", SERVERS)
def test_a_refused_config_file_applies_once_its_model_folder_appears(kind, tmp_path):
    """server.cc, PollFilesystemAndReloadConfig: the file is re-read and reloaded at
    every poll, so a config refused because a model had no version yet applies once
    the version is written, without the file changing."""
    binary = binary_for(kind)
    export_half_plus_two(str(tmp_path / "a"), 1, b=2.0)
    config = tmp_path / "models.config"
    config.write_text(config_text(("a", tmp_path / "a")))
    server = start_server(
        [f"--model_config_file={config}", "--model_config_file_poll_wait_seconds=1"], tmp_path, binary=binary
    )
    (tmp_path / "b").mkdir()
    config.write_text(config_text(("a", tmp_path / "a"), ("b", tmp_path / "b")))
    if binary is None:
        wait_for(lambda: "previous config keeps serving" in server.log(), 30, "the refused reload")
    export_half_plus_two(str(tmp_path / "b"), 1, b=5.0)
    client = Client(server.rest)
    wait_for(lambda: http("GET", f"{server.url}/v1/models/b")[0] == 200, 60, "model b")
    assert (y_of(client, "a"), y_of(client, "b")) == (2.5, 5.5)
    assert server.stop() == 0


def cpu_seconds(pid):
    """User + system CPU time of process `pid` so far (/proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def assert_idle(server, seconds=1.0):
    """Nothing is still computing: the server uses under a fifth of a core for `seconds`."""
    time.sleep(0.5)  # the cancellation reaches every op
    before = cpu_seconds(server.proc.pid)
    time.sleep(seconds)
    used = cpu_seconds(server.proc.pid) - before
    assert used < 0.2 * seconds, f"the server used {used:.2f} CPU seconds in {seconds} s after the deadline"


@pytest.mark.parametrize("kind", SERVERS)
def test_a_request_past_its_deadline_is_cancelled_not_just_answered(kind, tmp_path):
    """The REST timeout (http_rest_api_handler.cc, HttpRestApiHandler: RunOptions.set_timeout_in_ms)
    and the gRPC client's deadline (prediction_service_impl.cc, Predict: DeadlineToTimeoutMillis)
    become the session run's timeout, so the computation stops at the deadline."""
    binary = binary_for(kind)
    export_slow_model(str(tmp_path / "slow"))
    (tmp_path / "monitoring.config").write_text('prometheus_config { enable: true, path: "/metrics" }\n')
    server = start_server(
        [
            "--model_name=slow",
            f"--model_base_path={tmp_path / 'slow'}",
            "--rest_api_timeout_in_ms=1000",
            f"--monitoring_config_file={tmp_path / 'monitoring.config'}",
        ],
        tmp_path,
        binary=binary,
    )
    url = f"{server.url}/v1/models/slow:predict"
    x = [[0.1] * 8]
    started = time.monotonic()
    status, body = http("POST", url, {"inputs": {"x": x, "steps": 2_000_000_000}})
    assert status == 504 and time.monotonic() - started < 10, body
    assert_idle(server)
    assert http("POST", url, {"inputs": {"x": x, "steps": 3}})[0] == 200

    request = predict_pb2.PredictRequest()
    request.model_spec.name = "slow"
    request.inputs["x"].CopyFrom(tf.make_tensor_proto(np.array(x, np.float32)))
    request.inputs["steps"].CopyFrom(tf.make_tensor_proto(np.int32(2_000_000_000)))
    with grpc.insecure_channel(server.grpc) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        with pytest.raises(grpc.RpcError) as err:
            stub.Predict(request, timeout=1.0)
        assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert_idle(server)
        request.inputs["steps"].CopyFrom(tf.make_tensor_proto(np.int32(3)))
        assert stub.Predict(request, timeout=30).outputs["y"].tensor_shape.dim[0].size == 1
    if binary is None:  # our metric names; TF Serving's request_count labels differ
        metrics = urllib.request.urlopen(f"{server.url}/metrics").read().decode()
        assert 'entrypoint="REST",status="DEADLINE_EXCEEDED"} 1' in metrics
        assert 'entrypoint="GRPC",status="DEADLINE_EXCEEDED"} 1' in metrics
    assert server.stop() == 0


def concurrent_posts(url, bodies):
    """POSTs the bodies at once (each from its own thread); returns `[(status, body)]`."""
    import threading

    answers, barrier = [None] * len(bodies), threading.Barrier(len(bodies))

    def post(i):
        barrier.wait()
        answers[i] = http("POST", url, bodies[i])

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return answers


ONE_QUEUE = "max_batch_size { value: 4 }\nbatch_timeout_micros { value: 500000 }\nnum_batch_threads { value: 1 }\n"


@pytest.mark.parametrize("kind", SERVERS)
def test_batching_follows_tf_servings_rules(kind, tmp_path):
    """With --enable_batching every signature is batched, one queue per signature
    (batching_session.cc, BatchingSession::Create / InternalRun):
    - a request over max_batch_size rows is refused before it is queued
      (shared_batch_scheduler.h, ValidateBatchTaskQueueCapacity: "Task size ... is larger than
      maximum input batch size ...");
    - requests of different lengths in one batch fail together without padding
      (batching_session.cc:536, MergeInputTensors), and are padded at the end with the
      tensor's first element with pad_variable_length_inputs (batching_util.cc, AddPadding);
    - an input with no batch dimension is refused (batching_util.h, ComputeTensorBatchSize);
    - --enable_per_model_batching_parameters batches only versions that carry a
      batching_params.pbtxt (bundle_factory_util.cc, GetPerModelBatchingParams)."""
    binary = binary_for(kind)
    export_running_sum(str(tmp_path / "sum"))
    export_slow_model(str(tmp_path / "slow"))
    (tmp_path / "batching.config").write_text(ONE_QUEUE)
    (tmp_path / "models.config").write_text(config_text(("sum", tmp_path / "sum"), ("slow", tmp_path / "slow")))
    server = start_server(
        [
            f"--model_config_file={tmp_path / 'models.config'}",
            "--enable_batching=true",
            f"--batching_parameters_file={tmp_path / 'batching.config'}",
        ],
        tmp_path,
        binary=binary,
    )
    url = f"{server.url}/v1/models/sum:predict"
    status, body = http("POST", url, {"instances": [[1.0]] * 5})
    assert status == 400 and "Task size 5 is larger than maximum input batch size 4" in body["error"], body
    answers = concurrent_posts(url, [{"instances": [[1.0] * 3]}, {"instances": [[1.0] * 5]}])
    for status, body in answers:
        assert status == 400 and "padding is turned off" in body["error"], answers
    assert http("POST", url, {"instances": [[1.0, 2.0], [3.0, 4.0]]}) == (200, {"predictions": [[1, 3], [3, 7]]})
    status, body = http("POST", f"{server.url}/v1/models/slow:predict", {"inputs": {"x": [[0.1] * 8], "steps": 2}})
    assert status == 400 and "input tensors must have at least one dimension" in body["error"], body
    assert server.stop() == 0

    version = tmp_path / "sum" / "1"
    (version / "batching_params.pbtxt").write_text(ONE_QUEUE + "pad_variable_length_inputs: true\n")
    server = start_server(
        [
            f"--model_config_file={tmp_path / 'models.config'}",
            "--enable_batching=true",
            "--enable_per_model_batching_parameters=true",
        ],
        tmp_path,
        binary=binary,
    )
    url = f"{server.url}/v1/models/sum:predict"
    short, long = concurrent_posts(url, [{"instances": [[1.0, 2.0, 3.0]]}, {"instances": [[1.0] * 5]}])
    assert long == (200, {"predictions": [[1, 2, 3, 4, 5]]}), long
    # the short sequence comes back at the batch's length, padded with its first element (1.0)
    assert short == (200, {"predictions": [[1, 3, 6, 7, 8]]}), short
    status, body = http("POST", url, {"instances": [[1.0]] * 5})
    assert status == 400 and "Task size 5" in body["error"], body
    # no batching_params.pbtxt: not batched, so no batch dimension is needed
    status, body = http("POST", f"{server.url}/v1/models/slow:predict", {"inputs": {"x": [[0.1] * 8], "steps": 2}})
    assert status == 200, body
    assert server.stop() == 0


def write_warmup(version_dir, records):
    """`assets.extra/tf_serving_warmup_requests` with `records` (bytes each) as TFRecords."""
    path = os.path.join(version_dir, "assets.extra", "tf_serving_warmup_requests")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for record in records:
            writer.write(record)
    return path


def predict_log(x):
    request = predict_pb2.PredictRequest()
    request.model_spec.signature_name = "serving_default"
    request.inputs["x"].CopyFrom(tf.make_tensor_proto(np.asarray(x, np.float32)))
    return prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))


@pytest.mark.parametrize("kind", SERVERS)
@pytest.mark.parametrize("warmup", [True, False])
def test_a_version_whose_warmup_fails_never_serves_and_the_previous_one_keeps_serving(kind, warmup, tmp_path):
    """saved_model_warmup_util.cc (RunSavedModelWarmup): each PredictionLog record of
    assets.extra/tf_serving_warmup_requests is run while the version loads; a record that
    fails fails the load, and the availability-preserving policy keeps version 1. With
    --enable_model_warmup=false the file is not read."""
    binary = binary_for(kind)
    v1 = export_half_plus_two(str(tmp_path / "m"), 1, b=2.0)
    write_warmup(v1, [predict_log([1.0, 2.0]).SerializeToString()] * 3)
    server = start_server(
        [
            "--model_name=m",
            f"--model_base_path={tmp_path / 'm'}",
            "--file_system_poll_wait_seconds=1",
            f"--enable_model_warmup={str(warmup).lower()}",
        ],
        tmp_path,
        binary=binary,
    )
    client = Client(server.rest)
    assert y_of(client, "m") == 2.5
    if binary is None and warmup:
        assert "warmed up m version 1: 3 warmup records" in server.log()
    staging = tmp_path / "staging"
    export_half_plus_two(str(staging), 2, b=3.0)
    bad_request = predict_log([1.0])
    bad_request.predict_log.request.inputs["x"].CopyFrom(tf.make_tensor_proto(np.ones(2, np.int32)))
    write_warmup(staging / "2", [bad_request.SerializeToString()])  # an int32 x for a float input: the run fails
    os.rename(staging / "2", tmp_path / "m" / "2")
    if warmup:
        status = wait_for(
            lambda: next((v for v in client.status("m") if v["version"] == 2 and v["state"] == "END"), None),
            60,
            "version 2's failed load",
        )
        assert status["error_message"]
        assert y_of(client, "m") == 2.5  # version 1 serves on
    else:
        wait_for(lambda: y_of(client, "m") == 3.5, 60, "version 2 serving")
    assert server.stop() == 0


def test_exports_carry_one_warmup_request_per_signature_that_the_export_runs(tmp_path):
    """Every export writes TF Serving's warmup file: one PredictLog per signature whose
    request the exported endpoint answered before the version was renamed into place."""
    import keras

    from keras_l11.serving.servable import Servable
    from keras_l11.serving.warmup import run_warmup
    from keras_l11.training.export import Signature, export_saved_model

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    spec = {"features": tf.TensorSpec([None, 3], tf.float32)}
    signatures = {
        "serving_default": Signature(lambda features: {"scores": model(features)}, spec),
        "top": Signature(
            lambda features: {"top": tf.argmax(model(features), -1)}, spec, example={"features": [[1, 2, 3]]}
        ),
    }
    path = export_saved_model(model, str(tmp_path / "m"), signatures)
    records = [
        prediction_log_pb2.PredictionLog.FromString(r)
        for r in tf.data.TFRecordDataset(
            os.path.join(path, "assets.extra", "tf_serving_warmup_requests")
        ).as_numpy_iterator()
    ]
    assert sorted(r.predict_log.request.model_spec.signature_name for r in records) == ["serving_default", "top"]
    top = next(r for r in records if r.predict_log.request.model_spec.signature_name == "top")
    np.testing.assert_array_equal(tf.make_ndarray(top.predict_log.request.inputs["features"]), [[1, 2, 3]])
    assert run_warmup(Servable("m", 1, path)) == 2

    broken = {"serving_default": Signature(signatures["serving_default"].fn, spec, example={"features": [[1.0, 2.0]]})}
    with pytest.raises(ValueError, match="warmup request fails"):
        export_saved_model(model, str(tmp_path / "broken"), broken)
    assert not [d for d in os.listdir(tmp_path / "broken") if d.isdigit()]  # nothing half-written


@pytest.mark.parametrize("kind", SERVERS)
def test_a_production_command_line_starts_and_its_flags_work(kind, tmp_path):
    """main.cc's flags a deployment uses: CORS (http_rest_api_util.cc, AddCORSHeaders; an
    OPTIONS preflight needs an http(s) Origin, http_server.cc), gRPC channel arguments and
    the INT32_MAX message limit (server.cc, BuildAndStart), the gRPC health service, session
    threads and warmup."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    binary = binary_for(kind)
    export_half_plus_two(str(tmp_path / "m"), 1)
    server = start_server(
        [
            "--model_name=m",
            f"--model_base_path={tmp_path / 'm'}",
            "--rest_api_enable_cors_support=true",
            "--grpc_channel_arguments=grpc.max_connection_age_ms=600000,grpc.primary_user_agent=keras_l11-test",
            "--enable_grpc_healthcheck_service=true",
            "--enable_model_warmup=true",
            "--tensorflow_intra_op_parallelism=1",
            "--tensorflow_inter_op_parallelism=1",
            "--rest_api_timeout_in_ms=60000",
            "--rest_api_num_threads=2",
            "--saved_model_tags=serve",
            "--num_load_threads=2",
            "--flush_filesystem_caches=true",
        ],
        tmp_path,
        binary=binary,
    )
    request = urllib.request.Request(
        f"{server.url}/v1/models/m:predict", method="OPTIONS", headers={"Origin": "https://example.org"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200 and answer.headers["Access-Control-Allow-Origin"] == "*"
    request = urllib.request.Request(f"{server.url}/v1/models/m:predict", data=b'{"instances": [1.0]}', method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.headers["Access-Control-Allow-Methods"] == "POST, GET"
    assert http("OPTIONS", f"{server.url}/v1/models/m:predict")[0] == 400  # no Origin: not a preflight

    big = np.ones(20_000_000, np.float32)  # 80 MB: over gRPC's 4 MiB default and our old 64 MiB cap
    channel_options = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]
    with grpc.insecure_channel(server.grpc, options=channel_options) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("ModelService", "PredictionService"):
            status = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10).status
            assert status == health_pb2.HealthCheckResponse.SERVING
        predict = predict_pb2.PredictRequest()
        predict.model_spec.name = "m"
        predict.inputs["x"].CopyFrom(tf.make_tensor_proto(big))
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        answer = stub.Predict(predict, timeout=120)
        assert answer.outputs["y"].tensor_shape.dim[0].size == big.size
        # outputs in the typed field, as Tensor::AsProtoField writes them (predict_util.cc)
        predict.inputs["x"].CopyFrom(tf.make_tensor_proto(np.float32([1.0, 2.0, 3.0])))
        answer = stub.Predict(predict, timeout=30).outputs["y"]
        assert list(answer.float_val) == [2.5, 3.0, 3.5] and not answer.tensor_content
    assert server.stop() == 0


def openssl(*args, cwd):
    if not shutil.which("openssl"):
        pytest.skip("openssl is not on PATH")
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certificates(folder):
    """A CA, and a server and a client certificate it signed (the server's for 127.0.0.1)."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=keras_l11 test CA",
            "-keyout", "ca.key", "-out", "ca.pem", cwd=folder)  # fmt: skip
    for name, san in (("server", "IP:127.0.0.1,DNS:localhost"), ("client", "DNS:client")):
        openssl("req", "-x509", "-CA", "ca.pem", "-CAkey", "ca.key", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", f"/CN={name}", "-addext", f"subjectAltName={san}",
                "-keyout", f"{name}.key", "-out", f"{name}.pem", cwd=folder)  # fmt: skip
    return {path.stem + path.suffix: path.read_text() for path in folder.iterdir()}


@pytest.mark.parametrize("kind", SERVERS)
def test_grpc_over_tls_from_an_ssl_config_file(kind, tmp_path):
    """--ssl_config_file (server.cc, BuildServerCredentials): the server's key and
    certificate from an SSLConfig; with client_verify, clients need a certificate signed
    by custom_ca. --enable_serialization_as_tensor_content puts outputs in tensor_content."""
    binary = binary_for(kind)
    pem = make_certificates(tmp_path)
    export_half_plus_two(str(tmp_path / "m"), 1)
    quote = lambda text: '"' + text.replace("\n", "\\n") + '"'  # noqa: E731
    (tmp_path / "ssl.config").write_text(
        f"server_key: {quote(pem['server.key'])}\nserver_cert: {quote(pem['server.pem'])}\n"
        f"custom_ca: {quote(pem['ca.pem'])}\nclient_verify: true\n"
    )
    server = start_server(
        [
            "--model_name=m",
            f"--model_base_path={tmp_path / 'm'}",
            f"--ssl_config_file={tmp_path / 'ssl.config'}",
            "--enable_serialization_as_tensor_content=true",
        ],
        tmp_path,
        binary=binary,
    )
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "m"
    request.inputs["x"].CopyFrom(tf.make_tensor_proto(np.float32([1.0, 2.0])))
    trusted = grpc.ssl_channel_credentials(
        pem["ca.pem"].encode(), pem["client.key"].encode(), pem["client.pem"].encode()
    )
    with grpc.secure_channel(server.grpc, trusted) as channel:
        answer = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=30)
        assert answer.outputs["y"].tensor_content and not answer.outputs["y"].float_val
        np.testing.assert_array_equal(tf.make_ndarray(answer.outputs["y"]), [2.5, 3.0])
    refused = [
        grpc.insecure_channel(server.grpc),  # plain text to a TLS port
        grpc.secure_channel(server.grpc, grpc.ssl_channel_credentials(pem["ca.pem"].encode())),  # no client cert
    ]
    for channel in refused:
        with channel, pytest.raises(grpc.RpcError) as err:
            prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=10)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert server.stop() == 0


def thread_count(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Threads:"))


@pytest.mark.parametrize("kind", SERVERS)
def test_rest_runs_on_a_bounded_pool_and_idle_connections_hold_no_thread(kind, tmp_path):
    """--rest_api_num_threads (main.cc; server.h: 4 per CPU by default): 300 keep-alive
    connections, each with a request answered and then idle, add at most the pool's
    threads, and every one of them is answered again; pipelined requests are all answered."""
    import socket

    binary = binary_for(kind)
    export_half_plus_two(str(tmp_path / "m"), 1)
    server = start_server(
        ["--model_name=m", f"--model_base_path={tmp_path / 'm'}", "--rest_api_num_threads=4"], tmp_path, binary=binary
    )
    body = b'{"instances": [1.0]}'
    request = (
        b"POST /v1/models/m:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )

    def answers(conn, n):
        data = b""
        while data.count(b"HTTP/1.1 200") < n or not data.rstrip().endswith(b"}"):
            chunk = conn.recv(65536)
            assert chunk, data
            data += chunk
        return data.count(b'"predictions":[2.5]')

    assert http("POST", f"{server.url}/v1/models/m:predict", {"instances": [1.0]})[0] == 200
    before = thread_count(server.proc.pid)
    connections = [socket.create_connection(("127.0.0.1", server.rest_port), timeout=30) for _ in range(300)]
    try:
        for conn in connections:
            conn.sendall(request)
        assert sum(answers(conn, 1) for conn in connections) == 300
        time.sleep(0.5)
        grown = thread_count(server.proc.pid) - before
        assert grown <= 4, f"300 keep-alive connections added {grown} threads"
        for conn in connections:  # idle, not closed: each is answered again
            conn.sendall(request * 3)  # pipelined
        assert sum(answers(conn, 3) for conn in connections) == 900
    finally:
        for conn in connections:
            conn.close()
    assert server.stop() == 0


def test_sigterm_drains_within_the_grace_period_under_keep_alive_load(tmp_path):
    """(ours; TF Serving's binary has no SIGTERM handler and dies at once.) A client
    keeps one connection busy; a request that would run for minutes is in flight.
    After SIGTERM the busy connection's answers say Connection: close, new connections
    are refused, and the server exits once --shutdown_grace_seconds have passed."""
    import signal
    import socket
    import threading

    export_slow_model(str(tmp_path / "slow"))
    export_half_plus_two(str(tmp_path / "m"), 1)
    (tmp_path / "models.config").write_text(config_text(("slow", tmp_path / "slow"), ("m", tmp_path / "m")))
    server = start_server(
        [
            f"--model_config_file={tmp_path / 'models.config'}",
            "--rest_api_timeout_in_ms=0",
            "--shutdown_grace_seconds=3",
        ],
        tmp_path,
    )
    slow = threading.Thread(
        target=http,
        args=("POST", f"{server.url}/v1/models/slow:predict", {"inputs": {"x": [[0.1] * 8], "steps": 2_000_000_000}}),
        kwargs={"timeout": 60},
        daemon=True,
    )
    slow.start()
    body = b'{"instances": [1.0]}'
    request = (
        b"POST /v1/models/m:predict HTTP/1.1\r\nHost: x\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    conn = socket.create_connection(("127.0.0.1", server.rest_port), timeout=30)
    headers, stop = [], threading.Event()

    def keep_asking():
        buffer = b""
        while not stop.is_set():
            try:
                conn.sendall(request)
                while b"\r\n\r\n" not in buffer or not buffer.rstrip().endswith(b"}"):
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
            except OSError:
                return
            headers.append((time.monotonic(), buffer.split(b"\r\n\r\n")[0]))
            buffer = b""

    client = threading.Thread(target=keep_asking, daemon=True)
    client.start()
    time.sleep(1.0)
    answered_before = len(headers)
    signalled = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(30) == 0
    took = time.monotonic() - signalled
    stop.set()
    client.join(10)
    conn.close()
    assert answered_before > 0
    late = [head for at, head in headers if at > signalled + 1.0]  # the server polls its stop flag every 0.5 s
    assert all(b"connection: close" in head.lower() for head in late), late
    assert 2.5 < took < 10, f"the server took {took:.1f} s to stop with a 3 s grace period"
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.rest_port), timeout=5)


def test_version_prints_both_versions_without_starting():
    proc = subprocess.run(
        [sys.executable, "-m", "serving", "--version"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("TensorFlow ModelServer: ") and "TensorFlow Library: 2." in proc.stdout


# --- the configs we ship ------------------------------------------------------------------------------


def shipped(name):
    with open(os.path.join(ROOT, "serving", name)) as f:
        return f.read()


def test_the_shipped_model_config_passes_tf_servings_rules_in_the_container_layout():
    config = model_config.read_config(os.path.join(ROOT, "serving", "models.config"))
    validate_config(config)  # raises with TF Serving's message
    assert [c.name for c in config.model_config_list.config] == ["ntm_copy"]
    for c in config.model_config_list.config:
        assert c.base_path == f"/models/{c.name}"


def test_the_shipped_batching_and_monitoring_configs_parse_as_their_messages():
    from keras_l11.serving.batching import BatchingParameters
    from keras_l11.serving.server import _monitoring_path

    params = BatchingParameters.from_text(shipped("batching.config"))
    assert (params.max_batch_size, params.batch_timeout_micros, params.num_batch_threads) == (64, 2000, 2)
    assert params.pad_variable_length_inputs  # the shipped model (the NTM) takes sequences of any length
    assert _monitoring_path(os.path.join(ROOT, "serving", "monitoring.config")) == "/monitoring/prometheus/metrics"


def test_kubernetes_mounts_what_its_flags_and_the_model_config_name():
    """The container's flags read the config files from the ConfigMap's mount, and the
    models volume is mounted where the model config's absolute base paths point."""
    documents = list(yaml.safe_load_all(shipped("kubernetes.yaml")))
    (container,) = documents[0]["spec"]["template"]["spec"]["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    flags = dict(arg[2:].split("=", 1) for arg in container["args"])
    for flag in ("model_config_file", "batching_parameters_file", "monitoring_config_file"):
        assert os.path.dirname(flags[flag]) == mounts["config"], flag
        assert os.path.basename(flags[flag]) in os.listdir(os.path.join(ROOT, "serving"))
    assert flags["enable_batching"] == "true"
    config = model_config.read_config(os.path.join(ROOT, "serving", "models.config"))
    assert {os.path.dirname(c.base_path) for c in config.model_config_list.config} == {mounts["models"]}


def test_the_config_command_writes_absolute_paths_and_keeps_each_models_settings(tmp_path):
    saved = tmp_path / "saved_models"
    export_half_plus_two(str(saved / "b"), 3)
    export_half_plus_two(str(saved / "a"), 1)
    (saved / "not_a_model").mkdir()
    out = tmp_path / "models.config"
    out.write_text(config_text(("a", "/old/a", 'version_labels { key: "stable" value: 1 }'), ("gone", "/old/gone")))
    assert model_config.main(["--saved_models", str(saved), "--model_root", "/models", "--out", str(out)]) == 0
    config = model_config.read_config(str(out))
    entries = {c.name: c for c in config.model_config_list.config}
    assert {n: c.base_path for n, c in entries.items()} == {"a": "/models/a", "b": "/models/b"}
    assert dict(entries["a"].version_labels) == {"stable": 1}
    # By default the folder's own absolute path: a config this machine's server starts on.
    assert model_config.main(["--saved_models", str(saved), "--out", str(out)]) == 0
    assert {c.base_path for c in model_config.read_config(str(out)).model_config_list.config} == {
        str(saved / "a"),
        str(saved / "b"),
    }
    assert model_config.main(["--saved_models", str(saved), "--model_root", "models", "--out", str(out)]) == 2
    with pytest.raises(ServingError, match="absolute path or URI"):
        model_config.write_config(model_config.config_for(["a"], "relative/root"), str(out))
