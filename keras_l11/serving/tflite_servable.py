"""A version served from `model.tflite` with `--prefer_tflite_model`, through the
TFLite interpreter in the `tensorflow` wheel, as TF Serving's TfLiteSession serves it
(servables/tensorflow/tflite_session.cc):

- SignatureDefs are the ones stored in the model's `signature_defs_metadata` (a
  FlexBuffer map of serialized SignatureDefs, tensorflow/lite/tools/signature); their
  tensor names (`x:0`) are matched to the interpreter's (`x`). A model without them
  gets one `serving_default` (predict) whose inputs and outputs are the model's own.
- Each call resizes the inputs to the shapes sent, as TF Serving does, so a [1] tensor
  runs a model declared [1, 1].
- `--num_tflite_pools` interpreters serve calls in parallel (each runs one call at a
  time). The interpreter cannot be cancelled, so a deadline is checked before a call
  only.
"""

import os
import queue
import time
import warnings

import grpc
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2

from keras_l11.serving.errors import ServingError, invalid
from keras_l11.serving.servable import DEFAULT_SIGNATURE, PREDICT, ServableBase

MODEL_FILE = "model.tflite"
SIGNATURE_METADATA = b"signature_defs_metadata"


def has_tflite_model(path):
    return os.path.exists(os.path.join(path, MODEL_FILE))


def signature_defs_in(model_bytes):
    """The SignatureDefs stored in a TFLite model's metadata ({} when it has none)."""
    from flatbuffers import flexbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.Model.GetRootAsModel(model_bytes, 0)
    for i in range(model.MetadataLength()):
        metadata = model.Metadata(i)
        if metadata.Name() != SIGNATURE_METADATA:
            continue
        data = model.Buffers(metadata.Buffer()).DataAsNumpy().tobytes()
        entries = flexbuffers.GetRoot(data).AsMap
        defs = {}
        for key in entries.Keys:
            name = key.AsKey
            value = entries[name]
            signature_def = meta_graph_pb2.SignatureDef()
            signature_def.ParseFromString(value.AsBlob if value.IsBlob else value.AsString.encode("latin-1"))
            defs[name] = signature_def
        return defs
    return {}


class TfLiteServable(ServableBase):
    def __init__(self, name, version, path, num_interpreters=1):
        with open(os.path.join(path, MODEL_FILE), "rb") as f:
            model_bytes = f.read()
        with warnings.catch_warnings():  # "tf.lite.Interpreter is deprecated": it is still the wheel's
            warnings.simplefilter("ignore", UserWarning)
            interpreters = [tf.lite.Interpreter(model_content=model_bytes) for _ in range(max(1, num_interpreters))]
        self._pool = queue.SimpleQueue()  # idle interpreters: each runs one call at a time
        for interpreter in interpreters:
            interpreter.allocate_tensors()
            self._pool.put(interpreter)
        interpreter = interpreters[0]
        self._inputs = {d["name"]: d for d in interpreter.get_input_details()}
        self._outputs = {d["name"]: d for d in interpreter.get_output_details()}
        defs = signature_defs_in(model_bytes) or {DEFAULT_SIGNATURE: self._generated_signature()}
        for signature_def in defs.values():
            for kind, known in (("input", self._inputs), ("output", self._outputs)):
                for key, info in getattr(signature_def, f"{kind}s").items():
                    if info.name not in known and info.name.split(":")[0] in known:
                        info.name = info.name.split(":")[0]  # tflite_session.cc, FixTfLiteTensorName
                    elif info.name not in known:
                        raise ValueError(f"Signature {kind} {key} references an unknown tensor")
        super().__init__(name, version, path, defs)

    def _generated_signature(self):
        signature_def = meta_graph_pb2.SignatureDef(method_name=PREDICT)
        for kind, details in (("inputs", self._inputs), ("outputs", self._outputs)):
            for tensor_name, detail in details.items():
                info = getattr(signature_def, kind)[tensor_name]
                info.name = tensor_name
                info.dtype = tf.as_dtype(detail["dtype"]).as_datatype_enum
                for size in detail["shape_signature"]:
                    info.tensor_shape.dim.add(size=int(size))
        return signature_def

    def call(self, signature, inputs, timeout_ms=0):
        deadline = time.monotonic() + timeout_ms / 1000 if timeout_ms and timeout_ms > 0 else None
        interpreter = self._pool.get()
        try:
            if deadline is not None and time.monotonic() > deadline:
                raise ServingError(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline exceeded")
            for name, array in inputs.items():
                detail = self._inputs[signature.inputs[name].tensor]
                array = np.asarray(array, detail["dtype"])
                interpreter.resize_tensor_input(detail["index"], list(array.shape), strict=False)
            interpreter.allocate_tensors()
            for name, array in inputs.items():
                detail = self._inputs[signature.inputs[name].tensor]
                interpreter.set_tensor(detail["index"], np.asarray(array, detail["dtype"]))
            interpreter.invoke()
            return {
                key: np.array(interpreter.get_tensor(self._outputs[spec.tensor]["index"]))
                for key, spec in signature.outputs.items()
            }
        except (ValueError, RuntimeError) as err:
            raise invalid(f"TFLite: {err}") from None
        finally:
            self._pool.put(interpreter)
