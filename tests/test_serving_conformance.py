"""TF Serving conformance: every endpoint and error of the TF Serving contract (docs: serving) over real
HTTP and gRPC on 127.0.0.1, against our server and, when it is on PATH, a real
`tensorflow_model_server` given the same models and config."""

import base64
import json
import os
import socket
import subprocess
import sys
import urllib.request

import grpc
import numpy as np
import pytest
import tensorflow as tf
from serving_helpers import http, real_tf_serving, start_server
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)
from toy_models import export_half_plus_two

from keras_l11.serving.client import Client, ServingClientError

from conftest import ROOT

BODY_LIMIT = 1 << 20

CONFIG = """model_config_list {
  config {
    name: "hp2"
    base_path: "%(base)s"
    model_platform: "tensorflow"
    model_version_policy { all {} }
    version_labels { key: "stable" value: 1 }
    version_labels { key: "canary" value: 2 }
  }
  config { name: "hp2_latest" base_path: "%(base)s" model_platform: "tensorflow" }
}
"""


@pytest.fixture(scope="module", params=["local", "tensorflow_model_server"])
def server(request, tmp_path_factory):
    binary = None
    if request.param == "tensorflow_model_server":
        binary = real_tf_serving()
        if not binary:
            pytest.skip("tensorflow_model_server is not on PATH")
    tmp = tmp_path_factory.mktemp("conformance")
    base = tmp / "hp2"
    export_half_plus_two(str(base), 1, b=2.0)
    export_half_plus_two(str(base), 2, b=3.0)
    (tmp / "models.config").write_text(CONFIG % {"base": base})
    (tmp / "monitoring.config").write_text(
        'prometheus_config { enable: true, path: "/monitoring/prometheus/metrics" }\n'
    )
    args = [
        f"--model_config_file={tmp / 'models.config'}",
        "--allow_version_labels_for_unavailable_models=true",
        f"--monitoring_config_file={tmp / 'monitoring.config'}",
    ]
    if binary is None:
        args.append(f"--rest_api_max_body_bytes={BODY_LIMIT}")
    running = start_server(args, tmp, binary=binary)
    running.kind = request.param
    yield running
    assert running.stop() == 0, running.log()[-2000:]


def predict(server, path, body):
    return http("POST", f"{server.url}/v1/models/{path}:predict", body)


# --- REST: status and metadata ------------------------------------------------------------------


def test_rest_status_all_versions_one_version_and_label(server):
    status, body = http("GET", f"{server.url}/v1/models/hp2")
    assert status == 200
    assert sorted(v["version"] for v in body["model_version_status"]) == ["1", "2"]
    for entry in body["model_version_status"]:
        assert entry["state"] == "AVAILABLE" and entry["status"]["error_code"] == "OK"
    assert http("GET", f"{server.url}/v1/models/hp2/versions/1")[1]["model_version_status"][0]["version"] == "1"
    assert http("GET", f"{server.url}/v1/models/hp2/labels/canary")[1]["model_version_status"][0]["version"] == "2"
    latest = http("GET", f"{server.url}/v1/models/hp2_latest")[1]["model_version_status"]
    assert [v["version"] for v in latest if v["state"] == "AVAILABLE"] == ["2"]  # default policy: latest 1


def test_rest_metadata_has_every_signature(server):
    status, body = http("GET", f"{server.url}/v1/models/hp2/versions/1/metadata")
    assert status == 200
    assert body["model_spec"]["name"] == "hp2" and body["model_spec"]["version"] == "1"
    defs = body["metadata"]["signature_def"]["signature_def"]
    assert {"serving_default", "two_inputs", "bytes", "classify_x_to_y", "regress_x_to_y"} <= set(defs)
    assert defs["serving_default"]["inputs"]["x"]["dtype"] == "DT_FLOAT"
    assert defs["classify_x_to_y"]["method_name"] == "tensorflow/serving/classify"
    # http_rest_api_util.cc, ToJsonString: the SignatureDefMap unpacked (no "@type"), fields without
    # presence printed too (TF Serving's testGetModelMetadataREST compares this JSON whole)
    assert "@type" not in body["metadata"]["signature_def"]
    assert defs["serving_default"]["defaults"] == {}
    assert defs["serving_default"]["inputs"]["x"]["tensor_shape"]["unknown_rank"] is False
    assert body["model_spec"] == {"name": "hp2", "signature_name": "", "version": "1"}


# --- REST: predict, classify, regress --------------------------------------------------------------


def test_rest_predict_row_and_columnar_formats(server):
    assert predict(server, "hp2/versions/1", {"instances": [1.0, 2.0, 5.0]}) == (200, {"predictions": [2.5, 3.0, 4.5]})
    assert predict(server, "hp2/versions/1", {"inputs": [1.0, 2.0]}) == (200, {"outputs": [2.5, 3.0]})
    status, body = predict(
        server,
        "hp2/versions/1",
        {"signature_name": "two_inputs", "instances": [{"x": 1.0, "z": [1, 2]}, {"x": 2.0, "z": [3, 4]}]},
    )
    assert status == 200 and body == {"predictions": [{"y": 5.5, "z_sum": 3.0}, {"y": 10.0, "z_sum": 7.0}]}
    status, body = predict(
        server, "hp2/versions/1", {"signature_name": "two_inputs", "inputs": {"x": [1.0], "z": [[1, 2]]}}
    )
    assert status == 200 and body == {"outputs": {"y": [5.5], "z_sum": [3.0]}}


def test_rest_versions_and_labels_route_to_their_version(server):
    assert predict(server, "hp2", {"instances": [1.0]})[1] == {"predictions": [3.5]}  # latest
    assert predict(server, "hp2/versions/1", {"instances": [1.0]})[1] == {"predictions": [2.5]}
    assert predict(server, "hp2/labels/stable", {"instances": [1.0]})[1] == {"predictions": [2.5]}
    assert predict(server, "hp2/labels/canary", {"instances": [1.0]})[1] == {"predictions": [3.5]}


def test_rest_binary_inputs_and_bytes_outputs(server):
    payload = bytes(range(256))
    status, body = predict(
        server, "hp2", {"signature_name": "bytes", "instances": [{"b64": base64.b64encode(payload).decode()}]}
    )
    assert status == 200
    (row,) = body["predictions"]
    assert base64.b64decode(row["echo_bytes"]["b64"]) == payload and row["size"] == 256


def test_rest_classify_and_regress(server):
    status, body = http(
        "POST",
        f"{server.url}/v1/models/hp2/versions/1:classify",
        {"signature_name": "classify_x_to_y", "examples": [{"x": 1.0}, {"x": 3.0}]},
    )
    assert status == 200 and body == {"results": [[["y", 2.5]], [["y", 3.5]]]}
    status, body = http(
        "POST",
        f"{server.url}/v1/models/hp2/versions/1:regress",
        {"signature_name": "regress_x_to_y", "examples": [{"x": 1.0}, {"x": 3.0}]},
    )
    assert status == 200 and body == {"results": [2.5, 3.5]}
    status, body = http("POST", f"{server.url}/v1/models/hp2:classify", {"examples": [{"x": 1.0}]})
    assert status == 400 and "classif" in body["error"].lower()  # serving_default is a predict signature


def test_prometheus_metrics(server):
    predict(server, "hp2", {"instances": [1.0]})
    with urllib.request.urlopen(f"{server.url}/monitoring/prometheus/metrics") as r:
        text = r.read().decode()
    assert "# TYPE" in text and "hp2" in text


# --- REST: errors, each followed by a request that succeeds --------------------------------------

BAD_REQUESTS = [
    ("malformed JSON", "POST", "hp2:predict", b'{"instances": [1.0', 400, "JSON Parse error"),
    ("wrong dtype", "POST", "hp2:predict", {"instances": ["a", "b"]}, 400, ""),
    # shapes are not checked against the signature (TF Serving feeds what is sent: predict_util.cc), so a
    # [1, 2] x is answered; a z the graph cannot reduce over axis 1 is the session's INVALID_ARGUMENT
    (
        "a shape the graph cannot take",
        "POST",
        "hp2:predict",
        {"signature_name": "two_inputs", "instances": [{"x": 1.0, "z": 1.0}]},
        400,
        "Invalid reduction dimension",
    ),
    (
        "inconsistent batch (an instance lacks an input)",
        "POST",
        "hp2:predict",
        {"signature_name": "two_inputs", "instances": [{"x": 1.0, "z": [1, 2]}, {"x": 2.0}]},
        400,
        "",
    ),
    (
        "inconsistent batch (ragged rows)",
        "POST",
        "hp2:predict",
        {"signature_name": "two_inputs", "instances": [{"x": 1.0, "z": [1, 2]}, {"x": 2.0, "z": [3, 4, 5]}]},
        400,
        "",
    ),
    # http_rest_api_util.cc, kPredictionApiGegex / kModelStatusApiRegex and ParseModelInfo: anything else under
    # /v1/ is "Malformed request" (400); the verb must be spelled in lower case.
    ("unknown verb", "POST", "hp2:explode", {"instances": [1.0]}, 400, "Malformed request"),
    ("verb in capitals", "POST", "hp2:PREDICT", {"instances": [1.0]}, 400, "Malformed request"),
    ("extra path segment", "POST", "hp2/extra:predict", {"instances": [1.0]}, 400, "Malformed request"),
    ("trailing slash", "GET", "hp2/", None, 400, "Malformed request"),
    ("another method", "PUT", "hp2:predict", {"instances": [1.0]}, 400, "Malformed request"),
    ("nesting deeper than the parser", "POST", "hp2:predict", b"[" * 100_000 + b"]" * 100_000, 400, ""),
    # json_tensor.cc, AddValueToTensor: a float input takes numbers only.
    ("boolean for a float input", "POST", "hp2:predict", {"instances": [True, 2.0]}, 400, "is not of expected type"),
    ("unknown model", "POST", "nope:predict", {"instances": [1.0]}, 404, "Servable"),
    ("unknown version", "POST", "hp2/versions/7:predict", {"instances": [1.0]}, 404, "Servable"),
    (
        "unknown label",
        "POST",
        "hp2/labels/nolabel:predict",
        {"instances": [1.0]},
        400,
        "Unrecognized servable version label",
    ),
    ("unknown signature", "POST", "hp2:predict", {"signature_name": "nope", "instances": [1.0]}, 400, "nope"),
    ("missing input", "POST", "hp2:predict", {"signature_name": "two_inputs", "inputs": {"x": [1.0]}}, 400, ""),
    ("neither instances nor inputs", "POST", "hp2:predict", {"signature_name": "serving_default"}, 400, ""),
    ("path traversal", "POST", "..%2F..%2Fetc%2Fpasswd:predict", {"instances": [1.0]}, 404, ""),
    # http_rest_api_util.cc, ParseModelInfo: the label is URL-decoded after matching, then looked up
    ("traversal in label", "POST", "hp2/labels/..%2F1:predict", {"instances": [1.0]}, 400, "Unrecognized"),
]


@pytest.mark.parametrize("case", BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS])
def test_rest_bad_request_gets_clear_error_and_server_keeps_serving(server, case):
    _, method, path, body, want_status, want_text = case
    raw = body if isinstance(body, bytes) else None
    status, answer = http(method, f"{server.url}/v1/models/{path}", None if raw else body, raw=raw)
    assert status == want_status, answer
    if "raw" not in answer:
        assert isinstance(answer.get("error"), str) and answer["error"]
        assert want_text in answer["error"]
    assert predict(server, "hp2/versions/1", {"instances": [1.0]}) == (200, {"predictions": [2.5]})


def test_rest_routes_ignore_letter_case_but_not_the_verbs(server):
    """http_rest_api_util.cc: the route regexes are (?i)."""
    status, body = http("POST", f"{server.url}/V1/MODELS/hp2/VERSIONS/1:predict", {"instances": [1.0]})
    assert (status, body) == (200, {"predictions": [2.5]})
    assert http("GET", f"{server.url}/v1/Models/hp2/Labels/canary")[0] == 200


def raw_exchange(server, request, shut_write=False):
    """Sends raw bytes to the REST port; returns the status line's code (0: no answer)."""
    with socket.create_connection(("127.0.0.1", server.rest_port), timeout=30) as s:
        s.sendall(request)
        if shut_write:
            s.shutdown(socket.SHUT_WR)
        answer = b""
        while b"\r\n" not in answer:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    return int(answer.split()[1]) if answer.startswith(b"HTTP/") else 0


def test_rest_bodies_chunked_or_with_a_bad_length(server):
    """A chunked body is read (HTTP/1.1); a negative Content-Length is a bad request."""
    head = b"POST /v1/models/hp2/versions/1:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    body = b'{"instances": [1.0, 2.0]}'
    chunked = head + b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % 10 + body[:10] + b"\r\n"
    chunked += b"%x\r\n" % (len(body) - 10) + body[10:] + b"\r\n0\r\n\r\n"
    assert raw_exchange(server, chunked) == 200
    assert raw_exchange(server, head + b"Content-Length: -1\r\n\r\n" + body) == 400
    if server.kind == "local":  # a body shorter than its length, then the client stops sending
        assert raw_exchange(server, head + b"Content-Length: 100\r\n\r\n" + body, shut_write=True) == 400
    assert predict(server, "hp2/versions/1", {"instances": [1.0]}) == (200, {"predictions": [2.5]})


def test_rest_oversized_body_is_refused(server):
    if server.kind != "local":
        pytest.skip("--rest_api_max_body_bytes is our flag")
    body = json.dumps({"instances": [1.0] * (BODY_LIMIT // 4)}).encode()
    status, answer = http("POST", f"{server.url}/v1/models/hp2:predict", raw=body)
    assert status == 413 and "exceeds the limit" in answer["error"]
    assert predict(server, "hp2/versions/1", {"instances": [1.0]}) == (200, {"predictions": [2.5]})


def test_rest_garbage_on_the_socket_does_not_hurt(server):
    with socket.create_connection(("127.0.0.1", server.rest_port), timeout=5) as s:
        s.sendall(b"\x00\x01GARBAGE / HTTP/9.9\r\n\r\n")
        s.recv(1024)
    assert predict(server, "hp2/versions/1", {"instances": [1.0]}) == (200, {"predictions": [2.5]})


# --- gRPC ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stubs(server):
    channel = grpc.insecure_channel(server.grpc)
    yield (prediction_service_pb2_grpc.PredictionServiceStub(channel), model_service_pb2_grpc.ModelServiceStub(channel))
    channel.close()


def predict_request(name, version=None, label=None, signature="", **inputs):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    if version is not None:
        request.model_spec.version.value = version
    if label:
        request.model_spec.version_label = label
    request.model_spec.signature_name = signature
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    return request


def test_grpc_predict_echoes_model_spec_and_filters_outputs(stubs):
    predictions, _ = stubs
    response = predictions.Predict(predict_request("hp2", version=1, x=np.array([1.0, 2.0], np.float32)))
    np.testing.assert_array_equal(tf.make_ndarray(response.outputs["y"]), [2.5, 3.0])
    assert (response.model_spec.name, response.model_spec.version.value) == ("hp2", 1)
    assert response.model_spec.signature_name == "serving_default"
    request = predict_request(
        "hp2",
        label="canary",
        signature="two_inputs",
        x=np.array([1.0], np.float32),
        z=np.array([[1.0, 2.0]], np.float32),
    )
    request.output_filter.append("z_sum")
    response = predictions.Predict(request)
    assert list(response.outputs) == ["z_sum"] and response.model_spec.version.value == 2


def test_grpc_classify_regress_and_metadata(stubs):
    predictions, _ = stubs
    example = tf.train.Example()
    example.features.feature["x"].float_list.value.append(3.0)
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name, request.model_spec.signature_name = "hp2", "classify_x_to_y"
    request.model_spec.version.value = 1
    request.input.example_list.examples.append(example)
    classes = predictions.Classify(request).result.classifications[0].classes
    assert [(c.label, c.score) for c in classes] == [("y", 3.5)]
    request = regression_pb2.RegressionRequest()
    request.model_spec.name, request.model_spec.signature_name = "hp2", "regress_x_to_y"
    request.input.example_list.examples.append(example)
    assert predictions.Regress(request).result.regressions[0].value == 4.5  # latest: b = 3
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = "hp2"
    response = predictions.GetModelMetadata(request)
    defs = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(defs)
    assert "regress_x_to_y" in defs.signature_def and response.model_spec.version.value == 2


def test_grpc_multi_inference_runs_classify_and_regress_on_one_input(stubs):
    predictions, _ = stubs
    request = inference_pb2.MultiInferenceRequest()
    for method, signature in (
        ("tensorflow/serving/classify", "classify_x_to_y"),
        ("tensorflow/serving/regress", "regress_x_to_y"),
    ):
        task = request.tasks.add(method_name=method)
        task.model_spec.name, task.model_spec.signature_name = "hp2", signature
        task.model_spec.version.value = 1
    for x in (1.0, 5.0):
        example = request.input.example_list.examples.add()
        example.features.feature["x"].float_list.value.append(x)
    classified, regressed = predictions.MultiInference(request).results
    assert [[(c.label, c.score) for c in row.classes] for row in classified.classification_result.classifications] == [
        [("y", 2.5)],
        [("y", 4.5)],
    ]
    assert [r.value for r in regressed.regression_result.regressions] == [2.5, 4.5]
    assert regressed.model_spec.signature_name == "regress_x_to_y" and regressed.model_spec.version.value == 1
    request.tasks.add(method_name="tensorflow/serving/predict").model_spec.name = "hp2"
    with pytest.raises(grpc.RpcError) as err:
        predictions.MultiInference(request)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "method_name" in err.value.details()


def test_grpc_model_status(stubs):
    _, models = stubs
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "hp2"
    versions = {s.version: s.state for s in models.GetModelStatus(request).model_version_status}
    assert versions == {
        1: get_model_status_pb2.ModelVersionStatus.AVAILABLE,
        2: get_model_status_pb2.ModelVersionStatus.AVAILABLE,
    }


@pytest.mark.parametrize(
    "request_, code, text",
    [
        (lambda: predict_request("nope", x=np.array([1.0], np.float32)), grpc.StatusCode.NOT_FOUND, "Servable"),
        (
            lambda: predict_request("hp2", version=9, x=np.array([1.0], np.float32)),
            grpc.StatusCode.NOT_FOUND,
            "Servable",
        ),
        (lambda: predict_request("hp2", x=np.array(["a"])), grpc.StatusCode.INVALID_ARGUMENT, ""),
        (  # a tensor of another dtype is fed as sent, and the session refuses it
            lambda: predict_request("hp2", x=np.array([1], np.int32)),
            grpc.StatusCode.INVALID_ARGUMENT,
            "to be float but int32 is provided",
        ),
        (
            lambda: predict_request("hp2", signature="two_inputs", x=np.float32([1.0]), z=np.float32([1.0])),
            grpc.StatusCode.INVALID_ARGUMENT,
            "Invalid reduction dimension",
        ),
        (
            lambda: predict_request("hp2", signature="nope", x=np.array([1.0], np.float32)),
            grpc.StatusCode.INVALID_ARGUMENT,
            "nope",
        ),
        (
            lambda: predict_request("hp2", signature="two_inputs", x=np.array([1.0], np.float32)),
            grpc.StatusCode.INVALID_ARGUMENT,
            "",
        ),
        (
            lambda: predict_request("hp2", label="nolabel", x=np.array([1.0], np.float32)),
            grpc.StatusCode.INVALID_ARGUMENT,
            "Unrecognized servable version label",
        ),
    ],
    ids=[
        "unknown model",
        "unknown version",
        "wrong dtype",
        "int32 for a float input",
        "a shape the graph cannot take",
        "unknown signature",
        "missing input",
        "unknown label",
    ],
)
def test_grpc_errors_have_tf_serving_codes(stubs, request_, code, text):
    predictions, _ = stubs
    with pytest.raises(grpc.RpcError) as err:
        predictions.Predict(request_())
    assert err.value.code() == code and text in err.value.details()
    response = predictions.Predict(predict_request("hp2", version=1, x=np.array([1.0], np.float32)))
    np.testing.assert_array_equal(tf.make_ndarray(response.outputs["y"]), [2.5])


# --- the client, both protocols ------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["rest", "grpc"])
def test_client_round_trips(server, protocol):
    address = server.rest if protocol == "rest" else server.grpc
    with Client(address, protocol) as client:
        out = client.predict("hp2", {"x": np.array([1.0, 4.0], np.float32)}, version=1)
        assert out["y"].dtype == np.float32
        np.testing.assert_array_equal(out["y"], [2.5, 4.0])
        # float64 data for the float32 input: refused by the server as sent, then cast and sent again
        np.testing.assert_array_equal(client.predict("hp2", {"x": [1.0, 4.0]}, version=1)["y"], [2.5, 4.0])
        out = client.predict("hp2", {"image_bytes": np.array([b"\x00\xff"], object)}, signature_name="bytes")
        assert out["echo_bytes"][0] == b"\x00\xff" and out["size"][0] == 2
        assert client.classify("hp2", [{"x": 1.0}], "classify_x_to_y", version=1) == [[("y", 2.5)]]
        assert client.regress("hp2", [{"x": 1.0}], "regress_x_to_y", label="stable") == [2.5]
        assert [s["version"] for s in client.status("hp2")] == [2, 1]
        assert client.metadata("hp2")["serving_default"]["inputs"]["x"][0] == "DT_FLOAT"
        with pytest.raises(ServingClientError, match="Servable"):
            client.predict("nope", {"x": np.array([1.0], np.float32)})


def test_client_command_line(server, tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT)
    shown = subprocess.run(
        [sys.executable, "-m", "keras_l11.serving.client", "--server", server.rest, "--model", "hp2"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert shown.returncode == 0 and '"state": "AVAILABLE"' in shown.stdout and "serving_default" in shown.stdout
    np.save(tmp_path / "x.npy", np.array([1.0, 3.0], np.float32))
    for address, protocol in ((server.rest, "rest"), (server.grpc, "grpc")):
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "keras_l11.serving.client",
                "--server",
                address,
                "--protocol",
                protocol,
                "--model",
                "hp2",
                "--version",
                "1",
                "--input",
                f"x=@{tmp_path / 'x.npy'}",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert out.returncode == 0 and "y float32 [2]" in out.stdout and "[2.5 3.5]" in out.stdout, out.stderr
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "keras_l11.serving.client",
            "--server",
            server.rest,
            "--model",
            "nope",
            "--input",
            "x=[1.0]",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert bad.returncode == 1 and "Servable not found" in bad.stderr
