"""TF Serving's gRPC services (`tensorflow_serving.apis`) on top of `core.Inference`."""

import functools

import grpc
from tensorflow_serving.apis import (
    classification_pb2,
    inference_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

from keras_l11.serving import codec
from keras_l11.serving.errors import ServingError, invalid
from keras_l11.serving.protos import metadata_proto, status_proto
from keras_l11.serving.servable import CLASSIFY, REGRESS


def _rpc(method):
    """Maps ServingError to its status; any other failure to INTERNAL."""

    @functools.wraps(method)
    def wrapper(self, request, context):
        try:
            return method(self, request, context)
        except ServingError as err:
            context.abort(err.code, err.message)
        except Exception as err:  # noqa: BLE001 - a bug answers INTERNAL, the server keeps serving
            context.abort(grpc.StatusCode.INTERNAL, f"{type(err).__name__}: {err}")

    return wrapper


def _spec(model_spec):
    version = model_spec.version.value if model_spec.HasField("version") else None
    return model_spec.name, version, model_spec.version_label or None, model_spec.signature_name or None


def _timeout_ms(context):
    """The client's deadline as a run timeout (prediction_service_impl.cc: DeadlineToTimeoutMillis); 0: none."""
    remaining = context.time_remaining()
    if remaining is None or remaining > 1e9:  # no deadline
        return 0
    return max(1, int(remaining * 1000))


def _echo(response_spec, name, version, signature_name):
    response_spec.name = name
    response_spec.version.value = version
    response_spec.signature_name = signature_name


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    as_tensor_content = False  # --enable_serialization_as_tensor_content

    def __init__(self, inference):
        self.inference = inference

    @_rpc
    def Predict(self, request, context):
        name, version, label, signature_name = _spec(request.model_spec)

        def decode(signature):
            return {k: codec.tensor_proto_to_array(v, k) for k, v in request.inputs.items()}

        servable, signature, outputs = self.inference.predict(
            name,
            version,
            label,
            signature_name,
            decode,
            tuple(request.output_filter),
            entrypoint="GRPC",
            timeout_ms=_timeout_ms(context),
        )
        response = predict_pb2.PredictResponse()
        _echo(response.model_spec, name, servable.version, signature.name)
        for key, value in outputs.items():
            response.outputs[key].CopyFrom(codec.array_to_tensor_proto(value, self.as_tensor_content))
        return response

    def _examples(self, method, model_spec, examples, result, response_spec, context):
        """Runs a classify or regress signature on serialized examples into `result`."""
        api, fill = _EXAMPLE_METHODS[method]
        name, version, label, signature_name = _spec(model_spec)
        servable, signature, rows = getattr(self.inference, api)(
            name, version, label, signature_name, examples, entrypoint="GRPC", timeout_ms=_timeout_ms(context)
        )
        fill(result, rows)
        _echo(response_spec, name, servable.version, signature.name)

    @_rpc
    def Classify(self, request, context):
        response = classification_pb2.ClassificationResponse()
        self._examples(
            CLASSIFY,
            request.model_spec,
            codec.examples_from_input(request.input),
            response.result,
            response.model_spec,
            context,
        )
        return response

    @_rpc
    def Regress(self, request, context):
        response = regression_pb2.RegressionResponse()
        self._examples(
            REGRESS,
            request.model_spec,
            codec.examples_from_input(request.input),
            response.result,
            response.model_spec,
            context,
        )
        return response

    @_rpc
    def MultiInference(self, request, context):
        examples = codec.examples_from_input(request.input)
        response = inference_pb2.MultiInferenceResponse()
        for task in request.tasks:
            if task.method_name not in _EXAMPLE_METHODS:
                raise invalid(f"Unsupported signature method_name: {task.method_name}")
            result = response.results.add()
            target = result.classification_result if task.method_name == CLASSIFY else result.regression_result
            self._examples(task.method_name, task.model_spec, examples, target, result.model_spec, context)
        return response

    @_rpc
    def GetModelMetadata(self, request, context):
        fields = list(request.metadata_field)
        if fields != ["signature_def"]:
            raise invalid(f"Metadata field(s) {fields} not supported: only 'signature_def' is")
        name, version, label, _ = _spec(request.model_spec)
        servable, defs = self.inference.metadata(name, version, label)
        return metadata_proto(name, servable.version, defs)


def _fill_classifications(result, rows):
    for row in rows:
        classifications = result.classifications.add()
        for label, score in row:
            classifications.classes.add(label=label, score=score)


def _fill_regressions(result, values):
    for value in values:
        result.regressions.add(value=value)


# signature method -> (Inference method, how its results fill the response)
_EXAMPLE_METHODS = {CLASSIFY: ("classify", _fill_classifications), REGRESS: ("regress", _fill_regressions)}


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, inference, reload_config):
        self.inference = inference
        self.reload_config = reload_config

    @_rpc
    def GetModelStatus(self, request, context):
        name, version, label, _ = _spec(request.model_spec)
        return status_proto(self.inference.status(name, version, label))

    @_rpc
    def HandleReloadConfigRequest(self, request, context):
        self.reload_config(request.config)
        return model_management_pb2.ReloadConfigResponse()


def add_services(server, inference, reload_config, as_tensor_content=False):
    prediction = PredictionService(inference)
    prediction.as_tensor_content = as_tensor_content
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(prediction, server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(inference, reload_config), server)
