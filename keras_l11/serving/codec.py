"""Tensors in and out: TF Serving's REST JSON forms and gRPC TensorProtos.

REST (TF Serving's api_rest): row format `{"instances": ...}` answered with
`{"predictions": ...}`, columnar `{"inputs": ...}` answered with
`{"outputs": ...}`; `{"b64": "..."}` for binary strings; outputs whose name
ends in `_bytes` are returned base64-encoded. Floats are written exactly and
short: a float32 value as the shortest decimal that reads back as the same
float32 (3.1, not 3.0999999046325684), with NaN and Infinity as TF Serving writes them.
"""

import base64

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2

from keras_l11.serving.errors import invalid


def _decode_b64(value):
    if isinstance(value, dict):
        if set(value) != {"b64"} or not isinstance(value["b64"], str):
            raise invalid(f'JSON object {value!r} is not a tensor value (only {{"b64": ...}} objects are)')
        try:
            return base64.b64decode(value["b64"], validate=True)
        except ValueError as err:
            raise invalid(f"Unable to base64 decode: {err}") from None
    if isinstance(value, list):
        return [_decode_b64(v) for v in value]
    return value


def json_to_array(value, dtype, name):
    """A JSON value (nested lists, numbers, strings, `{"b64"}`) as an array of `dtype`."""
    dtype = tf.dtypes.as_dtype(dtype)
    if dtype == tf.string:
        value = _decode_b64(value)
        try:
            array = np.array(value, dtype=object)
        except ValueError as err:
            raise invalid(f"Input '{name}': {err}") from None
        flat = array.reshape(-1)
        for i, v in enumerate(flat):
            if isinstance(v, str):
                flat[i] = v.encode("utf-8")
            elif not isinstance(v, bytes):
                raise _type_error(v, dtype)
        return array
    # The JSON values TF Serving takes for each dtype (util/json_tensor.cc, AddValueToTensor): true or false
    # for bool only, integer literals in range for integers, any number for floats.
    try:
        values = np.array(value, dtype=object)
    except ValueError as err:  # e.g. nesting deeper than numpy's 64 dimensions
        raise invalid(f"Input '{name}': {err}") from None
    flat = values.reshape(-1)
    kinds = set(map(type, flat))
    if list in kinds:
        raise invalid(f"Input '{name}': nested lists of unequal lengths (a ragged tensor)")
    allowed = {bool} if dtype.is_bool else {int} if dtype.is_integer else {int, float}
    wrong = kinds - allowed
    if wrong:
        raise _type_error(next(v for v in flat if type(v) in wrong), dtype)
    if dtype.is_integer and flat.size:
        low, high = (-(1 << 63), (1 << 63) - 1) if dtype.size == 8 else (-(1 << 31), (1 << 31) - 1)
        if not low <= min(flat) <= max(flat) <= high:
            raise _type_error(next(v for v in flat if not low <= v <= high), dtype)
    return values.astype(dtype.as_numpy_dtype)


_JSON_TYPE_NAMES = {bool: "Boolean", int: "Number", float: "Number", str: "String", dict: "Object", type(None): "Null"}


def dtype_string(dtype):
    """TensorFlow's DataTypeString: "float" for float32, "double" for float64."""
    return {tf.float32: "float", tf.float64: "double", tf.float16: "half"}.get(dtype, dtype.name)


def _type_error(value, dtype):
    """TF Serving's message for a JSON value of the wrong type (json_tensor.cc, TypeError)."""
    import json

    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    kind = _JSON_TYPE_NAMES.get(type(value), type(value).__name__)
    return invalid(f"JSON Value: {text} Type: {kind} is not of expected type: {dtype_string(dtype)}")


def array_to_json(array, name):
    """An output array as JSON-ready Python values."""
    array = np.asarray(array)
    if array.dtype == object or array.dtype.kind in "SU":
        if name.endswith("_bytes"):
            encode = np.vectorize(lambda b: {"b64": base64.b64encode(b).decode("ascii")}, otypes=[object])
        else:
            encode = np.vectorize(
                lambda b: b.decode("utf-8", "replace") if isinstance(b, bytes) else b, otypes=[object]
            )
        return encode(array).tolist() if array.size else array.tolist()
    if array.dtype in (np.float32, np.float16):
        return float32_json_values(array).tolist()
    return array.tolist()


def float32_json_values(array):
    """Each value as the float64 that prints as TF Serving writes the float32
    (json_tensor.cc, WriteDecimal): its `%.6g` text when that reads back as the same
    float32, else its `%.9g` text; so float32(3.1) prints 3.1, not 3.0999999046325684.

    Vectorised (a Python loop over a million values took 0.77 s): the decimal of
    `digits` significant digits is `n / 10**q` with `n` an integer, and IEEE division
    of two exact values is correctly rounded, so it is the float64 nearest that
    decimal, which Python prints as the decimal. Values whose scale needs a power of
    ten that float64 does not hold exactly (below 1e-13 or above 1e13) take the loop.
    """
    x = np.asarray(array, np.float64)
    flat = x.ravel().copy()
    target = flat.astype(np.float32)
    nonzero = np.isfinite(flat) & (flat != 0)
    v = flat[nonzero]
    if v.size:
        exponent = np.floor(np.log10(np.abs(v)))
        result = np.full(v.shape, np.nan)
        for digits in (6, 9):
            q = digits - 1 - exponent
            exact = np.abs(q) <= 22
            power = 10.0 ** np.abs(np.where(exact, q, 0))
            n = np.round(np.where(q >= 0, v * power, v / power))
            # log10's floor can be one off next to a power of ten: fix the digit count
            too_many = np.abs(n) >= 10.0**digits
            n = np.where(too_many, np.round(np.where(q >= 0, v * power / 10, v / (power * 10))), n)
            power = np.where(too_many, np.where(q >= 0, power / 10, power * 10), power)
            decimal = np.where(q >= 0, n / power, n * power)
            if digits == 6:
                slow = ~exact  # the 6-digit text must be tried first, so these take the loop
            fits = np.isnan(result) & ~slow & exact & (decimal.astype(np.float32) == target[nonzero])
            result[fits] = decimal[fits]
        slow = np.flatnonzero(np.isnan(result))
        for i in slow:
            value = float(v[i])
            text = f"{value:.6g}"
            result[i] = float(text if np.float32(text) == np.float32(value) else f"{value:.9g}")
        flat[nonzero] = result
    return flat.reshape(x.shape)


def parse_predict_body(body, input_specs):
    """Returns `({input name: array}, row_format)`; the caller reads `signature_name`."""
    if not isinstance(body, dict):
        raise invalid("Malformed request: the body must be a JSON object")
    has_rows, has_cols = "instances" in body, "inputs" in body
    if has_rows == has_cols:
        raise invalid(
            "Malformed request: exactly one of 'instances' (row format) or 'inputs' (columnar format) is required"
        )
    names = list(input_specs)
    if has_rows:
        rows = body["instances"]
        if not isinstance(rows, list):
            raise invalid("Malformed request: 'instances' must be a list")
        if rows and all(isinstance(r, dict) and "b64" not in r for r in rows):
            columns = {}
            for i, row in enumerate(rows):
                if set(row) != set(rows[0]):
                    raise invalid(
                        f"Malformed request: instance {i} has keys {sorted(row)}, instance 0 has {sorted(rows[0])}"
                    )
                for key, value in row.items():
                    columns.setdefault(key, []).append(value)
        elif len(names) == 1:
            columns = {names[0]: rows}
        else:
            raise invalid(
                f"Malformed request: the signature has {len(names)} inputs {names}; each instance "
                "must be an object naming them"
            )
    else:
        inputs = body["inputs"]
        if isinstance(inputs, dict) and not (set(inputs) == {"b64"}):
            columns = inputs
        elif len(names) == 1:
            columns = {names[0]: inputs}
        else:
            raise invalid(
                f"Malformed request: the signature has {len(names)} inputs {names}; 'inputs' must be "
                "an object naming them"
            )
    arrays = {}
    for key, value in columns.items():
        if key not in input_specs:
            arrays[key] = np.asarray([])  # an unknown input: the signature check names it
            continue
        arrays[key] = json_to_array(value, input_specs[key].dtype, key)
    if has_rows:
        sizes = {k: a.shape[0] if a.ndim else None for k, a in arrays.items() if k in input_specs}
        if len({s for s in sizes.values() if s is not None}) > 1:
            raise invalid(f"Input tensors in row format have an inconsistent batch size: {sizes}")
    return arrays, has_rows


def predict_response(outputs, row_format):
    names = list(outputs)
    if row_format:
        if len(names) == 1:
            return {"predictions": array_to_json(outputs[names[0]], names[0])}
        sizes = {n: np.shape(outputs[n])[0] if np.ndim(outputs[n]) else None for n in names}
        if None in sizes.values() or len(set(sizes.values())) != 1:
            raise invalid(
                f"Output tensors have different batch sizes {sizes}: use the columnar format ('inputs') to get them"
            )
        columns = {n: array_to_json(outputs[n], n) for n in names}
        return {"predictions": [{n: columns[n][i] for n in names} for i in range(sizes[names[0]])]}
    if len(names) == 1:
        return {"outputs": array_to_json(outputs[names[0]], names[0])}
    return {"outputs": {n: array_to_json(outputs[n], n) for n in names}}


def examples_from_json(body):
    """REST classify/regress `examples` (+ optional `context`) as serialized tf.Examples."""
    if not isinstance(body, dict) or not isinstance(body.get("examples"), list):
        raise invalid("Malformed request: 'examples' must be a list of objects")
    context = body.get("context") or {}
    if not isinstance(context, dict):
        raise invalid("Malformed request: 'context' must be an object")
    serialized = []
    for i, features in enumerate(body["examples"]):
        if not isinstance(features, dict):
            raise invalid(f"Malformed request: example {i} is not an object")
        example = tf.train.Example()
        for key, value in {**context, **features}.items():
            _set_feature(example.features.feature[key], value, key)
        serialized.append(example.SerializeToString())
    return np.array(serialized, dtype=object)


def _set_feature(feature, value, key):
    values = value if isinstance(value, list) else [value]
    values = _decode_b64(values)
    if all(isinstance(v, bool) for v in values) or all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        feature.int64_list.value.extend(int(v) for v in values)
    elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        feature.float_list.value.extend(float(v) for v in values)
    elif all(isinstance(v, (str, bytes)) for v in values):
        feature.bytes_list.value.extend(v.encode("utf-8") if isinstance(v, str) else v for v in values)
    else:
        raise invalid(f"Feature '{key}': values must all be numbers or all strings, got {value!r}")


def examples_from_input(model_input):
    """A gRPC `Input` (`example_list`, or `example_list_with_context`: each example
    merged over the context) as serialized tf.Examples."""
    kind = model_input.WhichOneof("kind")
    if kind == "example_list":
        return np.array([e.SerializeToString() for e in model_input.example_list.examples], dtype=object)
    if kind == "example_list_with_context":
        ctx = model_input.example_list_with_context.context
        out = []
        for example in model_input.example_list_with_context.examples:
            merged = type(example)()
            merged.CopyFrom(ctx)
            merged.MergeFrom(example)
            out.append(merged.SerializeToString())
        return np.array(out, dtype=object)
    raise invalid("Input is empty: give example_list or example_list_with_context")


def tensor_proto_to_array(proto, name):
    try:
        return tf.make_ndarray(proto)
    except Exception as err:  # noqa: BLE001 - any malformed proto is the client's error
        raise invalid(f"Input '{name}': invalid TensorProto ({err})") from None


# The TensorProto field TF Serving's `Tensor::AsProtoField` fills for each dtype.
_PROTO_FIELDS = {
    tf.float32: "float_val",
    tf.float64: "double_val",
    tf.int32: "int_val",
    tf.int16: "int_val",
    tf.int8: "int_val",
    tf.uint8: "int_val",
    tf.uint16: "int_val",
    tf.int64: "int64_val",
    tf.uint32: "uint32_val",
    tf.uint64: "uint64_val",
    tf.bool: "bool_val",
    tf.string: "string_val",
}


def array_to_tensor_proto(array, as_tensor_content=False):
    """An output as TF Serving's Predict returns it: values in the dtype's repeated
    field (`float_val`, `int_val`, ...), as `Tensor::AsProtoField` writes them, or in
    `tensor_content` with `--enable_serialization_as_tensor_content`
    (predict_util.cc). Clients read either with `tf.make_ndarray`."""
    array = np.asarray(array)
    if as_tensor_content:
        return tf.make_tensor_proto(array)
    dtype = tf.as_dtype(array.dtype) if array.dtype.kind not in "OSU" else tf.string
    field = _PROTO_FIELDS.get(dtype)
    if field is None:  # half, bfloat16, complex: tensor_content, as make_tensor_proto writes them
        return tf.make_tensor_proto(array)
    proto = tensor_pb2.TensorProto(dtype=dtype.as_datatype_enum)
    proto.tensor_shape.dim.extend(tensor_shape_pb2.TensorShapeProto.Dim(size=n) for n in array.shape)
    values = array.ravel()
    if dtype == tf.string:
        values = [v if isinstance(v, bytes) else str(v).encode() for v in values]
    elif dtype == tf.bool:
        values = values.tolist()
    getattr(proto, field).extend(values)
    return proto
