"""What TensorFlow Serving's own model-server suite
(tensorflow_serving/model_servers/tensorflow_model_server_test.py) checks, written
again here so CI keeps it without a TF Serving checkout; each test names the ones it
mirrors. `python -m benchmarks.tfs_suite --tf_serving CHECKOUT` runs the suite itself.

Each runs against our server and, when it is on PATH, a real `tensorflow_model_server`.
"""

import os
import threading

import grpc
import pytest
from serving_helpers import SERVERS, binary_for, http, start_server
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    inference_pb2,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)
from toy_models import export_half_plus_two, export_half_plus_two_tf2, export_half_plus_two_tflite


def predict_request(values, shape, name="default"):
    """The suite's request (tensorflow_model_server_test_base.py, VerifyPredictRequest):
    x as float_val with the shape given, no output filter."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    request.inputs["x"].dtype = types_pb2.DT_FLOAT
    request.inputs["x"].float_val.extend(values)
    for size in shape:
        request.inputs["x"].tensor_shape.dim.add().size = size
    return request


def predict(address, request):
    with grpc.insecure_channel(address) as channel:
        return prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=30)


@pytest.mark.parametrize("kind", SERVERS)
def test_inputs_are_fed_whatever_their_shape_and_grpc_also_listens_on_a_unix_socket(kind, tmp_path):
    """testPredictSavedModel, testPredictREST, testPredictColumnarREST, testPredictUDS:
    half_plus_two declares x [-1, 1]; TF Serving feeds the tensor as sent (predict_util.cc
    checks names, not shapes), so [1] and [3] tensors are answered; --grpc_socket_path
    serves the same services on unix:PATH (server.cc)."""
    binary = binary_for(kind)
    export_half_plus_two(str(tmp_path / "m"), 123, x_shape=(None, 1))
    socket_path = str(tmp_path / "serving.sock")
    server = start_server(
        ["--model_name=default", f"--model_base_path={tmp_path / 'm'}", f"--grpc_socket_path={socket_path}"],
        tmp_path,
        binary=binary,
    )
    for address in (server.grpc, f"unix:{socket_path}"):
        answer = predict(address, predict_request([2.0], [1]))
        assert list(answer.outputs["y"].float_val) == [3.0] and answer.model_spec.version.value == 123
    url = f"{server.url}/v1/models/default:predict"
    assert http("POST", url, {"instances": [2.0, 3.0, 4.0]}) == (200, {"predictions": [3.0, 3.5, 4.0]})
    assert http("POST", url, {"inputs": [2.0, 3.0, 4.0]}) == (200, {"outputs": [3.0, 3.5, 4.0]})
    assert server.stop() == 0


def example_input(request):
    example = request.input.example_list.examples.add()
    example.features.feature["x"].float_list.value.append(2.0)
    return request


@pytest.mark.parametrize("kind", SERVERS)
def test_classify_regress_and_multi_inference_serve_tf2_signatures(kind, tmp_path):
    """testClassifyTf2, testRegressTf2, testMultiInferenceTf2: TF2 SavedModels write the
    predict method name on every signature; with --enable_signature_method_name_check off
    (its default, main.cc) Classify and Regress take any signature shaped for them
    (classifier.cc, PreProcessClassification; regressor.cc, PreProcessRegression)."""
    binary = binary_for(kind)
    export_half_plus_two_tf2(str(tmp_path / "m"), 123)
    server = start_server(["--model_name=default", f"--model_base_path={tmp_path / 'm'}"], tmp_path, binary=binary)
    with grpc.insecure_channel(server.grpc) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        request = example_input(classification_pb2.ClassificationRequest())
        request.model_spec.name, request.model_spec.signature_name = "default", "classify_x_to_y"
        answer = stub.Classify(request, timeout=30)
        assert answer.result.classifications[0].classes[0].score == 3.0
        assert answer.result.classifications[0].classes[0].label == "y"
        request = example_input(regression_pb2.RegressionRequest())
        request.model_spec.name, request.model_spec.signature_name = "default", "regress_x_to_y"
        assert stub.Regress(request, timeout=30).result.regressions[0].value == 3.0
        request = example_input(inference_pb2.MultiInferenceRequest())
        for signature, method in (("regress_x_to_y", "regress"), ("classify_x_to_y", "classify")):
            task = request.tasks.add()
            task.model_spec.name, task.model_spec.signature_name = "default", signature
            task.method_name = f"tensorflow/serving/{method}"
        results = stub.MultiInference(request, timeout=30).results
        assert results[0].regression_result.regressions[0].value == 3.0
        assert results[1].classification_result.classifications[0].classes[0].score == 3.0
    assert server.stop() == 0

    server = start_server(
        ["--model_name=default", f"--model_base_path={tmp_path / 'm'}", "--enable_signature_method_name_check=true"],
        tmp_path,
        binary=binary,
    )
    status, body = http(
        "POST",
        f"{server.url}/v1/models/default:regress",
        {"signature_name": "regress_x_to_y", "examples": [{"x": 2.0}]},
    )
    assert (
        status == 400 and "Expected regression signature method_name to be tensorflow/serving/regress" in body["error"]
    )
    assert server.stop() == 0


@pytest.mark.parametrize("kind", SERVERS)
@pytest.mark.parametrize("signature_def", [False, True])
def test_tflite_versions_serve_with_prefer_tflite_model(kind, signature_def, tmp_path):
    """testPredictOnTfLite, testPredictWithSignatureDefOnTfLite: with --prefer_tflite_model
    a version's model.tflite is served (saved_model_bundle_factory.cc); its SignatureDefs
    come from the model's metadata, or one serving_default is made from its tensors
    (tflite_session.cc); inputs are resized to the shape sent."""
    binary = binary_for(kind)
    export_half_plus_two_tflite(str(tmp_path / "m"), 123, signature_def=signature_def)
    server = start_server(
        ["--model_name=default", f"--model_base_path={tmp_path / 'm'}", "--prefer_tflite_model=true"],
        tmp_path,
        binary=binary,
    )
    shape = [1] if signature_def else [1, 1]  # the suite sends [1]; the generated signature keeps [1, 1]
    answer = predict(server.grpc, predict_request([2.0], shape))
    (output,) = answer.outputs.values()
    assert list(output.float_val) == [3.0] and answer.model_spec.version.value == 123
    if signature_def:
        assert list(answer.outputs) == ["y"]
    assert server.stop() == 0


def test_the_profiler_service_answers_on_the_grpc_port(tmp_path):
    """test_profiler_service_with_valid_trace_request: a trace request sent to the gRPC
    port collects a trace (server.cc registers the profiler service). Ours takes
    --enable_profiler=true (off by default: the wheel's profiler listens on every interface)."""
    from tensorflow.python.profiler import profiler_client

    export_half_plus_two(str(tmp_path / "m"), 123, x_shape=(None, 1))
    server = start_server(
        ["--model_name=default", f"--model_base_path={tmp_path / 'm'}", "--enable_profiler=true"], tmp_path
    )
    logdir = tmp_path / "logs"
    logdir.mkdir()
    done = threading.Event()

    def traffic():  # the suite sends predict requests while it traces: an idle server has no events
        while not done.is_set():
            http("POST", f"{server.url}/v1/models/default:predict", {"instances": [2.0, 3.0, 4.0]})

    sender = threading.Thread(target=traffic, daemon=True)
    sender.start()
    try:
        profiler_client.trace(server.grpc, str(logdir), 1000, "", 3)
    finally:
        done.set()
        sender.join(30)
    traces = [name for _, _, names in os.walk(logdir) for name in names if name.endswith(".xplane.pb")]
    assert traces, f"no trace under {logdir}"
    assert server.stop() == 0
