"""SavedModel warmup, as TF Serving runs it before a version serves.

A version may carry `assets.extra/tf_serving_warmup_requests`: a TFRecord file of
`tensorflow.serving.PredictionLog` records (at most 1,000). With warmup on (TF
Serving's `--enable_model_warmup`, on by default) each record's request is run
`--num_request_iterations_for_warmup` times while the version loads, so the first
real request does not pay for the first run's graph optimisation and allocation.
A record that fails fails the load: the version never serves, and the version
serving before it keeps serving. Rules and messages from TF Serving's
`servables/tensorflow/saved_model_warmup_util.cc` and `saved_model_warmup.cc`.
"""

import os

import grpc
import tensorflow as tf
from google.protobuf.message import DecodeError
from tensorflow_serving.apis import prediction_log_pb2

from keras_l11.serving import codec
from keras_l11.serving.errors import ServingError, invalid
from keras_l11.serving.servable import CLASSIFY, REGRESS

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
MAX_RECORDS = 1000  # WarmupConsts::kMaxNumRecords


def warmup_path(version_path):
    return os.path.join(version_path, WARMUP_FILE)


def run_warmup(servable, iterations=1):
    """Replays the version's warmup records; returns how many it read (0 without a
    file). Raises `ServingError` with TF Serving's message when a record cannot be
    read or its request fails."""
    path = warmup_path(servable.path)
    if not os.path.exists(path):
        return 0
    records = 0
    try:
        for record in tf.compat.v1.io.tf_record_iterator(path):
            log = prediction_log_pb2.PredictionLog()
            try:
                log.ParseFromString(record)
            except DecodeError:
                raise invalid(f"Failed to parse warmup record: {record[:64]!r} from {path}") from None
            for _ in range(iterations):
                _replay(servable, log)
            records += 1
            if records > MAX_RECORDS:
                raise invalid(f"Number of warmup records exceeds the maximum ({MAX_RECORDS}) at {path}")
    except tf.errors.DataLossError as err:
        raise ServingError(
            grpc.StatusCode.DATA_LOSS, f"{err.message}. Please verify your warmup data is in TFRecord format."
        ) from None
    return records


def _replay(servable, log):
    """One record's request on `servable` (saved_model_warmup.cc, RunWarmupRequest)."""
    kind = log.WhichOneof("log_type")
    if kind == "predict_log":
        request = log.predict_log.request
        signature = servable.signature(request.model_spec.signature_name or None)
        inputs = {k: codec.tensor_proto_to_array(v, k) for k, v in request.inputs.items()}
        servable.predict(signature, inputs, tuple(request.output_filter))
    elif kind in ("classify_log", "regress_log"):
        request = getattr(log, kind).request
        signature = servable.signature(request.model_spec.signature_name or None)
        run = servable.classify if kind == "classify_log" else servable.regress
        run(signature, codec.examples_from_input(request.input))
    elif kind == "multi_inference_log":
        request = log.multi_inference_log.request
        examples = codec.examples_from_input(request.input)
        for task in request.tasks:
            signature = servable.signature(task.model_spec.signature_name or None)
            if task.method_name not in (CLASSIFY, REGRESS):
                raise invalid(f"Unsupported signature method_name: {task.method_name}")
            (servable.classify if task.method_name == CLASSIFY else servable.regress)(signature, examples)
    else:
        number = log.DESCRIPTOR.fields_by_name[kind].number if kind else 0
        raise ServingError(grpc.StatusCode.UNIMPLEMENTED, f"Unsupported log_type for warmup: {number}")
