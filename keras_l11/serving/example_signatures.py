"""Classify and Regress on serialized `tf.Example`s, with TF Serving's checks
(servables/tensorflow/classifier.cc and regressor.cc).

A signature serves Classify when it has one input, `inputs`, and one or two outputs
among `classes` and `scores`; Regress when it has one input, `inputs`, and one output,
`outputs`. Its `method_name` is checked only with `--enable_signature_method_name_check`
(off by default): TF2 SavedModels write `tensorflow/serving/predict` on every signature,
and TF Serving serves them.
"""

import numpy as np
from google.protobuf import text_format

from keras_l11.serving.errors import failed_precondition, invalid

CLASSIFY = "tensorflow/serving/classify"
REGRESS = "tensorflow/serving/regress"


class Options:
    # server.cc sets TF Serving's process-wide feature from --enable_signature_method_name_check
    check_method_names = False


def _debug_string(signature_def):
    return text_format.MessageToString(signature_def)


def _check_input(signature_def, kind):
    if len(signature_def.inputs) != 1:
        raise invalid("Expected one input Tensor.")
    if "inputs" not in signature_def.inputs:
        raise invalid(f"No {kind} inputs found in SignatureDef: {_debug_string(signature_def)}")


def classify(servable, signature, examples, timeout_ms, call):
    """`[[(label, score), ...] per example]` (PreProcessClassification, PostProcessClassificationResult)."""
    signature_def = servable.signature_defs[signature.name]
    if Options.check_method_names and signature_def.method_name != CLASSIFY:
        raise invalid(
            f"Expected classification signature method_name to be {CLASSIFY}. Was: {signature_def.method_name}"
        )
    _check_input(signature_def, "classification")
    if len(signature_def.outputs) not in (1, 2):
        raise invalid(f"Expected one or two output Tensors, found {len(signature_def.outputs)}")
    if "classes" not in signature_def.outputs and "scores" not in signature_def.outputs:
        raise invalid(
            'Expected classification signature outputs to contain at least one of "classes" or "scores". '
            f"Signature was: {_debug_string(signature_def)}"
        )
    outputs = call(signature, {"inputs": np.asarray(examples, dtype=object)}, timeout_ms)
    n = len(examples)
    classes, scores = outputs.get("classes"), outputs.get("scores")
    is_string = lambda value: value.dtype == object or value.dtype.kind in "SU"  # noqa: E731
    is_float = lambda value: value.dtype == np.float32  # noqa: E731
    for name, value, dtype, has_dtype in (
        ("classes", classes, "DT_STRING", is_string),
        ("scores", scores, "DT_FLOAT", is_float),
    ):
        if value is None:
            continue
        if value.ndim != 2:
            raise invalid(f"Expected Tensor shape: [batch_size num_classes] but got {list(value.shape)}")
        if not has_dtype(value):
            raise invalid(f"Expected {name} Tensor of {dtype}. Got: {value.dtype}")
        if value.shape[0] != n:
            raise invalid(f"Expected {name} output batch size of {n}. Got: {value.shape[0]}")
    if classes is not None and scores is not None and classes.shape[1] != scores.shape[1]:
        raise invalid(
            f"Tensors class and score should match in dim_size(1). Got {classes.shape[1]} vs. {scores.shape[1]}"
        )
    width = (classes if classes is not None else scores).shape[1]
    return [
        [
            (
                _label(classes[i, c]) if classes is not None else "",
                float(scores[i, c]) if scores is not None else 0.0,
            )
            for c in range(width)
        ]
        for i in range(n)
    ]


def regress(servable, signature, examples, timeout_ms, call):
    """One float per example (PreProcessRegression, PostProcessRegressionResult)."""
    signature_def = servable.signature_defs[signature.name]
    if Options.check_method_names and signature_def.method_name != REGRESS:
        raise invalid(f"Expected regression signature method_name to be {REGRESS}. Was: {signature_def.method_name}")
    _check_input(signature_def, "regression")
    if len(signature_def.outputs) != 1:
        raise invalid("Expected one output Tensor.")
    if "outputs" not in signature_def.outputs:
        raise invalid(f"No regression outputs found in SignatureDef: {_debug_string(signature_def)}")
    outputs = call(signature, {"inputs": np.asarray(examples, dtype=object)}, timeout_ms)
    value, n = outputs.get("outputs"), len(examples)
    if value is None:
        raise failed_precondition(f"No regression outputs found in SignatureDef: {_debug_string(signature_def)}")
    if not (value.ndim == 1 or (value.ndim == 2 and value.shape[1] == 1)):
        raise invalid(
            f"Expected output Tensor shape to be either [batch_size] or [batch_size, 1] but got {list(value.shape)}"
        )
    if value.shape[0] != n:
        raise invalid(f"Input batch size did not match output batch size: {n} vs. {value.shape[0]}")
    if value.dtype != np.float32:
        raise invalid(f"Expected output Tensor of DT_FLOAT.  Got: {value.dtype}")
    return [float(v) for v in value.reshape(-1)]


def _label(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
