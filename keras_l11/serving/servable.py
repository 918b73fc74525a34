"""One loaded version of a model: its signatures, checked inputs, and calls.

A version runs as TF Serving runs it: its MetaGraph is loaded into a session of
its own (`tf.compat.v1.saved_model.loader.load`, the Python face of the C++
`LoadSavedModel` TF Serving calls), and a request is one `Session.run` that feeds
the signature's input tensors and fetches its outputs, with `RunOptions`' timeout:
a request past its deadline is cancelled inside TensorFlow, not just answered.
TF1 SavedModels (whose graphs TF2's `tf.saved_model.load` cannot always trace)
load as they do in TF Serving. The `SignatureDef`s are the MetaGraph's own, so
`GetModelMetadata` returns exactly what TF Serving would.
"""

import os
import re

import grpc
import numpy as np
import tensorflow as tf
from tensorflow.python.client import pywrap_tf_session as tf_session  # the session's C API, as Session.run uses it
from tensorflow.python.util import deprecation  # the v1 loader is deprecated in TF2, and TF Serving's own way

from keras_l11.serving import example_signatures
from keras_l11.serving.codec import dtype_string
from keras_l11.serving.errors import ServingError, invalid

PREDICT = "tensorflow/serving/predict"
CLASSIFY = example_signatures.CLASSIFY
REGRESS = example_signatures.REGRESS
DEFAULT_SIGNATURE = "serving_default"


class TensorSpec:
    """dtype, shape (None = any size) and graph tensor of one signature input or output."""

    def __init__(self, tensor_info):
        self.dtype = tf.dtypes.as_dtype(tensor_info.dtype)
        shape = tensor_info.tensor_shape
        self.shape = None if shape.unknown_rank else tuple(None if d.size < 0 else d.size for d in shape.dim)
        # A dense tensor's name in the graph; sparse and composite encodings cannot be fed by Predict.
        self.tensor = tensor_info.name if tensor_info.WhichOneof("encoding") == "name" else None


class Signature:
    def __init__(self, name, signature_def):
        self.name = name
        self.method = signature_def.method_name
        self.inputs = {k: TensorSpec(v) for k, v in signature_def.inputs.items()}
        self.outputs = {k: TensorSpec(v) for k, v in signature_def.outputs.items()}


class ServableBase:
    """What every loaded version has: its SignatureDefs, request checks, Predict,
    Classify and Regress. Subclasses load a format and implement `call`."""

    def __init__(self, name, version, path, signature_defs):
        self.name = name
        self.version = version
        self.path = path
        self.signature_defs = {k: v for k, v in signature_defs.items() if not k.startswith("__")}
        self.signatures = {k: Signature(k, v) for k, v in self.signature_defs.items()}
        self.batching = None  # BatchingParameters when requests to this version are batched

    def call(self, signature, inputs, timeout_ms=0):
        raise NotImplementedError

    def signature(self, name=None):
        name = name or DEFAULT_SIGNATURE
        if name not in self.signatures:
            raise invalid(
                f'Serving signature name: "{name}" not found in signature def (have: {sorted(self.signatures)})'
            )
        return self.signatures[name]

    def check_request(self, signature, inputs, output_filter=()):
        """Input names, output filter and dtypes against the signature. Shapes are not
        checked, as TF Serving does not (predict_util.cc): the graph's ops take what
        they can, so `half_plus_two`'s x [-1, 1] accepts a [3] tensor."""
        if example_signatures.Options.check_method_names and signature.method not in (PREDICT, CLASSIFY, REGRESS):
            raise ServingError(  # predict_util.cc, VerifySignature
                grpc.StatusCode.INTERNAL,
                f"Expected prediction signature method_name to be one of {{{PREDICT}, {CLASSIFY}, {REGRESS}}}. "
                f"Was: {signature.method}",
            )
        missing = sorted(set(signature.inputs) - set(inputs))
        extra = sorted(set(inputs) - set(signature.inputs))
        if missing or extra:
            raise invalid(
                f"input size does not match signature: {len(inputs)}!={len(signature.inputs)} "
                f"len({sorted(inputs)}) != len({sorted(signature.inputs)}). Sent extra: {extra}. "
                f"Missing but required: {missing}."
            )
        unknown = sorted(set(output_filter) - set(signature.outputs))
        if unknown:
            raise invalid(
                f"output tensor alias not found in signature: {unknown[0]} (outputs: {sorted(signature.outputs)})"
            )
        for i, (name, array) in enumerate(inputs.items()):
            spec = signature.inputs[name]
            if not _same_dtype(array, spec.dtype):
                # A TensorProto of another dtype is not cast (TF Serving feeds it as sent; the session refuses it).
                raise invalid(
                    f"Expects arg[{i}] ('{name}') to be {dtype_string(spec.dtype)} but "
                    f"{dtype_string(tf.as_dtype(array.dtype))} is provided"
                )

    def predict(self, signature, inputs, output_filter=()):
        """Checks and runs `signature` on `{name: array}`; returns `{name: array}`."""
        self.check_request(signature, inputs, output_filter)
        outputs = self.call(signature, inputs)
        return {k: v for k, v in outputs.items() if k in output_filter} if output_filter else outputs

    def classify(self, signature, serialized_examples, timeout_ms=0, call=None):
        """`call` runs the signature (the batcher's, when batching applies)."""
        return example_signatures.classify(self, signature, serialized_examples, timeout_ms, call or self.call)

    def regress(self, signature, serialized_examples, timeout_ms=0, call=None):
        return example_signatures.regress(self, signature, serialized_examples, timeout_ms, call or self.call)


class Servable(ServableBase):
    """A SavedModel version loaded from `<base_path>/<version>/`."""

    def __init__(self, name, version, path, session_config=None, tags=("serve",)):
        if not os.path.exists(os.path.join(path, "saved_model.pb")):
            raise FileNotFoundError(f"no saved_model.pb in {path}")
        self._graph = tf.Graph()
        self._session = tf.compat.v1.Session(graph=self._graph, config=session_config)
        try:
            with self._graph.as_default(), deprecation.silence():
                meta_graph = tf.compat.v1.saved_model.loader.load(self._session, list(tags), path)
        except BaseException:
            self._session.close()
            raise
        super().__init__(name, version, path, meta_graph.signature_def)
        self._tensors = {}  # tensor name -> graph tensor
        # No explicit close on unload: a request still running holds this object, and the
        # session is freed (Session.__del__) when the last one lets go of it.

    def call(self, signature, inputs, timeout_ms=0):
        """One `Session.run` of the signature on already-checked arrays; a positive
        `timeout_ms` cancels the run when it passes (DEADLINE_EXCEEDED)."""
        feeds = {}
        for name, array in inputs.items():
            spec = signature.inputs[name]
            if spec.tensor is None:
                raise invalid(f"Input '{name}' of signature '{signature.name}' is not a dense tensor")
            try:
                feeds[spec.tensor] = np.asarray(
                    array, dtype=object if spec.dtype == tf.string else spec.dtype.as_numpy_dtype
                )
            except (TypeError, ValueError) as err:
                raise invalid(f"Input '{name}' cannot be converted to {spec.dtype.name}: {err}") from None
        fetches = {k: v.tensor for k, v in signature.outputs.items() if v.tensor is not None}
        options = tf.compat.v1.RunOptions(timeout_in_ms=int(timeout_ms)) if timeout_ms and timeout_ms > 0 else None
        try:
            values = self._run(feeds, list(fetches.values()), options)
        except tf.errors.InvalidArgumentError as err:
            raise invalid(op_error_message(err)) from None
        except tf.errors.OpError as err:
            raise ServingError(_op_error_code(err), op_error_message(err)) from None
        return {k: np.asarray(v) for k, v in zip(fetches, values)}

    def _run(self, feeds, fetches, options):
        """`Session.run` as the C++ `Session::Run` TF Serving calls: the Python client's
        `run` refuses a feed whose shape differs from the placeholder's, which C++ never
        checks, so this goes one level down (`BaseSession._do_run`, the step `run`
        takes after its checks) with the same arguments."""
        feed_tensors = {self._tensor(name).ref(): value for name, value in feeds.items()}
        fetch_tensors = [self._tensor(name) for name in fetches]
        options_buffer = tf_session.TF_NewBufferFromString(options.SerializeToString()) if options else None
        try:
            return self._session._do_run(None, [], fetch_tensors, feed_tensors, options_buffer, None)
        finally:
            if options_buffer is not None:
                tf_session.TF_DeleteBuffer(options_buffer)

    def _tensor(self, name):
        """The graph tensor called `name`, looked up once per version, not per request."""
        tensor = self._tensors.get(name)
        if tensor is None:
            tensor = self._tensors[name] = self._graph.get_tensor_by_name(name)
        return tensor


def _same_dtype(array, dtype):
    if dtype == tf.string:
        return array.dtype == object or array.dtype.kind in "SU"
    return array.dtype == dtype.as_numpy_dtype


def _op_error_code(err):
    return {
        tf.errors.NotFoundError: grpc.StatusCode.NOT_FOUND,
        tf.errors.ResourceExhaustedError: grpc.StatusCode.RESOURCE_EXHAUSTED,
        tf.errors.FailedPreconditionError: grpc.StatusCode.FAILED_PRECONDITION,
        tf.errors.OutOfRangeError: grpc.StatusCode.OUT_OF_RANGE,
        tf.errors.UnimplementedError: grpc.StatusCode.UNIMPLEMENTED,
        tf.errors.DeadlineExceededError: grpc.StatusCode.DEADLINE_EXCEEDED,
    }.get(type(err), grpc.StatusCode.INTERNAL)


def op_error_message(err):
    """The op's own message, as TF Serving reports it: without the eager
    runtime's "Graph execution error ... Detected at node" preamble and stack,
    and without the trailing `[[{{node ...}}]] [Op:...]` location."""
    message = re.sub(r"\s*\[\[\{\{node [^\n]*$", "", err.message, flags=re.S)
    if message.startswith("Graph execution error:"):
        message = message.rsplit("\n\n", 1)[-1]
    return message.strip() or err.message
