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
        # The float64 nearest each value's shortest float32 text, so JSON prints 3.1 for float32(3.1)
        # (TF Serving's json_tensor.cc, WriteDecimal, writes floats in their own precision too).
        return np.array([float(t) for t in array.ravel().astype(str)], np.float64).reshape(array.shape).tolist()
    return array.tolist()


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


def array_to_tensor_proto(array):
    return tf.make_tensor_proto(np.asarray(array))
