"""One client for REST and gRPC, NumPy in and out.

    from keras_l11.serving.client import Client
    client = Client("127.0.0.1:8500", protocol="grpc")   # or "127.0.0.1:8501", "rest"
    outputs = client.predict("ntm_copy", {"sequence": x})  # {"probabilities": array}

It speaks only TF Serving's public APIs, so it works unchanged against a real
`tensorflow_model_server`. From the shell:

    python -m keras_l11.serving.client --server 127.0.0.1:8501 --model ntm_copy    # status, signatures
    python -m keras_l11.serving.client --server 127.0.0.1:8501 --model ntm_copy --example --save_inputs batch.npz
    python -m keras_l11.serving.client --server 127.0.0.1:8500 --protocol grpc --model ntm_copy \\
        --input sequence=@batch.npz [--signature serving_default] [--version 3]
"""

import argparse
import base64
import json
import re
import sys
import urllib.error
import urllib.request

import numpy as np


class ServingClientError(RuntimeError):
    """A request the server refused; `code` is the HTTP status or gRPC code name."""

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Client:
    def __init__(self, address, protocol="rest", timeout=30.0):
        if protocol not in ("rest", "grpc"):
            raise ValueError(f"protocol must be 'rest' or 'grpc', got {protocol!r}")
        self.address = address
        self.protocol = protocol
        self.timeout = timeout
        self._impl = _Rest(address, timeout) if protocol == "rest" else _Grpc(address, timeout)

    def predict(self, model, inputs, signature_name=None, version=None, label=None, output_filter=None):
        """`inputs`: {name: array}; returns {output name: array}.

        TF Serving takes each input only in its declared dtype; when the server
        refuses an input's dtype (float64 data for a float32 input, say), the inputs
        are cast to the signature's dtypes (same kind only, or integral floats to
        integers) and the request is sent once more."""
        arrays = {k: np.asarray(v) for k, v in inputs.items()}
        try:
            return self._impl.predict(model, arrays, signature_name, version, label, output_filter)
        except ServingClientError as err:
            if not _DTYPE_REFUSED.search(err.message):
                raise
            signature = self.metadata(model, version, label).get(signature_name or "serving_default")
            cast = _as_declared(arrays, signature["inputs"] if signature else {})
            if cast is None:
                raise
            return self._impl.predict(model, cast, signature_name, version, label, output_filter)

    def classify(self, model, examples, signature_name=None, version=None, label=None):
        """`examples`: list of {feature: value or list}; returns [[(label, score), ...], ...]."""
        return self._impl.classify(model, examples, signature_name, version, label)

    def regress(self, model, examples, signature_name=None, version=None, label=None):
        return self._impl.regress(model, examples, signature_name, version, label)

    def status(self, model, version=None, label=None):
        """[{"version": int, "state": str, "error_code": str, "error_message": str}, ...]."""
        return self._impl.status(model, version, label)

    def metadata(self, model, version=None, label=None):
        """{signature name: {"inputs": {name: (dtype, shape)}, "outputs": {...}, "method_name": str}}."""
        return self._impl.metadata(model, version, label)

    def close(self):
        self._impl.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# The server's answer to an input of another dtype (REST: json_tensor.cc; gRPC: the session's feed check).
_DTYPE_REFUSED = re.compile(r"is not of expected type|to be \w+ but \w+ is provided")


def _as_declared(arrays, declared):
    """`arrays` with numeric inputs cast to their declared dtypes, or None when no
    input could be: a cast must keep the kind (float64 -> float32, int64 -> int32)
    or turn integral floats into integers; booleans and strings are never cast."""
    cast, changed = dict(arrays), False
    for name, array in arrays.items():
        target = _NUMPY.get((declared.get(name) or (None,))[0])
        if target is None or array.dtype == target or array.dtype.kind not in "iuf" or np.dtype(target).kind == "b":
            continue
        integral = np.dtype(target).kind in "iu" and array.dtype.kind == "f" and np.all(array == np.round(array))
        if np.can_cast(array.dtype, target, "same_kind") or integral:
            cast[name], changed = array.astype(target), True
    return cast if changed else None


def _path(model, version, label):
    path = f"/v1/models/{model}"
    if version is not None:
        path += f"/versions/{int(version)}"
    elif label:
        path += f"/labels/{label}"
    return path


def _to_json(array):
    if array.dtype == object or array.dtype.kind in "SU":
        return np.vectorize(
            lambda v: {"b64": base64.b64encode(v if isinstance(v, bytes) else str(v).encode()).decode()},
            otypes=[object],
        )(array).tolist()
    return array.tolist()


class _Rest:
    def __init__(self, address, timeout):
        self.base = address if address.startswith("http") else f"http://{address}"
        self.timeout = timeout
        self._metadata = {}

    def _call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as err:
            text = err.read().decode("utf-8", "replace")
            try:
                message = json.loads(text)["error"]
            except (ValueError, KeyError, TypeError):
                message = text
            raise ServingClientError(err.code, message) from None

    def predict(self, model, inputs, signature_name, version, label, output_filter):
        body = {"inputs": {k: _to_json(v) for k, v in inputs.items()}}
        if signature_name:
            body["signature_name"] = signature_name
        outputs = self._call("POST", _path(model, version, label) + ":predict", body)["outputs"]
        signature = self.metadata(model, version, label)[signature_name or "serving_default"]
        if not isinstance(outputs, dict) or len(signature["outputs"]) == 1:
            outputs = {next(iter(signature["outputs"])): outputs}
        result = {k: _from_json(v, signature["outputs"][k][0]) for k, v in outputs.items()}
        return {k: v for k, v in result.items() if not output_filter or k in output_filter}

    def classify(self, model, examples, signature_name, version, label):
        body = {"examples": examples, **({"signature_name": signature_name} if signature_name else {})}
        return [
            [(c, s) for c, s in row]
            for row in self._call("POST", _path(model, version, label) + ":classify", body)["results"]
        ]

    def regress(self, model, examples, signature_name, version, label):
        body = {"examples": examples, **({"signature_name": signature_name} if signature_name else {})}
        return self._call("POST", _path(model, version, label) + ":regress", body)["results"]

    def status(self, model, version, label):
        rows = self._call("GET", _path(model, version, label))["model_version_status"]
        return [
            {
                "version": int(r["version"]),
                "state": r["state"],
                "error_code": r["status"]["error_code"],
                "error_message": r["status"].get("error_message", ""),
            }
            for r in rows
        ]

    def metadata(self, model, version, label):
        key = (model, version, label)
        if key not in self._metadata or version is None:
            defs = self._call("GET", _path(model, version, label) + "/metadata")["metadata"]["signature_def"]
            self._metadata[key] = _signatures_from_json(defs.get("signature_def", {}))
        return self._metadata[key]

    def close(self):
        pass


def _signatures_from_json(defs):
    def specs(tensors):
        return {
            k: (v["dtype"], tuple(int(d.get("size", -1)) for d in v.get("tensor_shape", {}).get("dim", [])))
            for k, v in tensors.items()
        }

    return {
        name: {
            "inputs": specs(d.get("inputs", {})),
            "outputs": specs(d.get("outputs", {})),
            "method_name": d.get("method_name", ""),
        }
        for name, d in defs.items()
    }


_NUMPY = {
    "DT_FLOAT": np.float32,
    "DT_DOUBLE": np.float64,
    "DT_INT32": np.int32,
    "DT_INT64": np.int64,
    "DT_BOOL": np.bool_,
    "DT_INT8": np.int8,
    "DT_UINT8": np.uint8,
    "DT_INT16": np.int16,
    "DT_HALF": np.float16,
}


def _from_json(value, dtype):
    if dtype == "DT_STRING":

        def decode(v):
            return base64.b64decode(v["b64"]) if isinstance(v, dict) else str(v).encode()

        return np.vectorize(decode, otypes=[object])(np.array(value, dtype=object))
    return np.array(value, dtype=_NUMPY.get(dtype, None))


class _Grpc:
    def __init__(self, address, timeout):
        import grpc
        from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

        self._grpc = grpc
        self.timeout = timeout
        self.channel = grpc.insecure_channel(
            address,
            options=[("grpc.max_receive_message_length", 256 << 20), ("grpc.max_send_message_length", 256 << 20)],
        )
        self.predictions = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        self.models = model_service_pb2_grpc.ModelServiceStub(self.channel)

    def _spec(self, spec, model, version, label, signature_name=None):
        spec.name = model
        if version is not None:
            spec.version.value = int(version)
        elif label:
            spec.version_label = label
        if signature_name:
            spec.signature_name = signature_name

    def _call(self, method, request):
        try:
            return method(request, timeout=self.timeout)
        except self._grpc.RpcError as err:
            raise ServingClientError(err.code().name, err.details()) from None

    def predict(self, model, inputs, signature_name, version, label, output_filter):
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2

        request = predict_pb2.PredictRequest()
        self._spec(request.model_spec, model, version, label, signature_name)
        for k, v in inputs.items():
            request.inputs[k].CopyFrom(tf.make_tensor_proto(v))
        request.output_filter.extend(output_filter or ())
        response = self._call(self.predictions.Predict, request)
        return {k: tf.make_ndarray(v) for k, v in response.outputs.items()}

    def _examples(self, request, examples):
        import tensorflow as tf

        from keras_l11.serving.codec import examples_from_json

        for serialized in examples_from_json({"examples": examples}):
            request.input.example_list.examples.add().CopyFrom(tf.train.Example.FromString(serialized))

    def classify(self, model, examples, signature_name, version, label):
        from tensorflow_serving.apis import classification_pb2

        request = classification_pb2.ClassificationRequest()
        self._spec(request.model_spec, model, version, label, signature_name)
        self._examples(request, examples)
        result = self._call(self.predictions.Classify, request).result
        return [[(c.label, c.score) for c in row.classes] for row in result.classifications]

    def regress(self, model, examples, signature_name, version, label):
        from tensorflow_serving.apis import regression_pb2

        request = regression_pb2.RegressionRequest()
        self._spec(request.model_spec, model, version, label, signature_name)
        self._examples(request, examples)
        return [r.value for r in self._call(self.predictions.Regress, request).result.regressions]

    def status(self, model, version, label):
        from tensorflow_serving.apis import get_model_status_pb2

        request = get_model_status_pb2.GetModelStatusRequest()
        self._spec(request.model_spec, model, version, label)
        states = {
            v.number: k for k, v in get_model_status_pb2.ModelVersionStatus.State.DESCRIPTOR.values_by_name.items()
        }
        rows = self._call(self.models.GetModelStatus, request).model_version_status
        return [
            {
                "version": r.version,
                "state": states[r.state],
                "error_code": self._grpc.StatusCode(_code(self._grpc, r.status.error_code)).name,
                "error_message": r.status.error_message,
            }
            for r in rows
        ]

    def metadata(self, model, version, label):
        from google.protobuf import json_format
        from tensorflow_serving.apis import get_model_metadata_pb2

        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        self._spec(request.model_spec, model, version, label)
        response = self._call(self.predictions.GetModelMetadata, request)
        defs = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(defs)
        return _signatures_from_json(
            json_format.MessageToDict(defs, preserving_proto_field_name=True).get("signature_def", {})
        )

    def close(self):
        self.channel.close()


def _code(grpc, number):
    return next((c for c in grpc.StatusCode if c.value[0] == number), grpc.StatusCode.UNKNOWN).value


def _parse_input(text):
    """`NAME=JSON`, `NAME=@file.npy` or `NAME=@file.npz` (its array `NAME`) -> (name, array)."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=JSON, NAME=@file.npy or NAME=@file.npz")
    if not value.startswith("@"):
        try:
            return name, np.array(json.loads(value))
        except json.JSONDecodeError as err:
            raise argparse.ArgumentTypeError(f"{text!r}: the value is not JSON ({err})") from None
    path = value[1:]
    try:
        loaded = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: no file {path!r} (make one with --example --save_inputs inputs.npz, "
            f"then pass --input {name}=@inputs.npz)"
        ) from None
    except (OSError, ValueError) as err:
        raise argparse.ArgumentTypeError(f"{text!r}: {path!r} is not a NumPy .npy or .npz file ({err})") from None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        if name not in loaded.files:
            raise argparse.ArgumentTypeError(f"{text!r}: {path!r} holds {sorted(loaded.files)}, not {name!r}")
        return name, loaded[name]
    return name, loaded


def example_inputs(signature, given=(), size=4, seed=0):
    """Inputs for a signature's missing inputs, from its metadata (`Client.metadata`):
    random values of each input's dtype and shape, batch 1, unknown dimensions
    `size` (floats and integers are random 0s and 1s, uint8 0-255, strings "example")."""
    rng = np.random.default_rng(seed)
    inputs = {}
    for name, (dtype, shape) in signature["inputs"].items():
        if name in given:
            continue
        dims = [1 if i == 0 and d == -1 else size if d == -1 else d for i, d in enumerate(shape)]
        if dtype == "DT_STRING":
            inputs[name] = np.full(dims, b"example", dtype=object)
        elif dtype == "DT_UINT8":
            inputs[name] = rng.integers(0, 256, dims).astype(np.uint8)
        elif dtype == "DT_BOOL":
            inputs[name] = rng.integers(0, 2, dims).astype(bool)
        elif dtype in _NUMPY:
            inputs[name] = rng.integers(0, 2, dims).astype(_NUMPY[dtype])
        else:
            raise ValueError(
                f"input {name!r} has dtype {dtype}, for which no example can be made; give it with --input"
            )
    return inputs


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m keras_l11.serving.client",
        description=__doc__.split("\n\n")[0] + "\n\n" + __doc__.split("\n\n")[-1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--server", default="127.0.0.1:8501", help="host:port (default: 127.0.0.1:8501)")
    p.add_argument("--protocol", choices=("rest", "grpc"), default="rest", help="default: rest")
    p.add_argument("--model", required=True)
    p.add_argument(
        "--input",
        action="append",
        type=_parse_input,
        default=[],
        help="NAME=JSON, NAME=@file.npy or NAME=@file.npz (repeatable); with neither --input nor --example, "
        "the model's status and signatures are printed",
    )
    p.add_argument(
        "--example",
        action="store_true",
        help="make the inputs not given with --input from the signature: random values of its dtypes and "
        "shapes, batch 1",
    )
    p.add_argument("--example_size", type=int, default=4, help="unknown dimensions of --example inputs (default: 4)")
    p.add_argument("--save_inputs", default="", metavar="FILE.npz", help="also write the inputs sent to FILE.npz")
    p.add_argument("--signature", default=None, help="default: serving_default")
    p.add_argument("--version", type=int, default=None)
    p.add_argument("--label", default=None)
    args = p.parse_args(argv)
    try:
        with Client(args.server, args.protocol) as client:
            inputs = dict(args.input)
            if args.example:
                signatures = client.metadata(args.model, args.version, args.label)
                name = args.signature or "serving_default"
                if name not in signatures:
                    raise ServingClientError(
                        "NOT_FOUND", f"{args.model} has no signature {name!r}: {sorted(signatures)}"
                    )
                inputs.update(example_inputs(signatures[name], inputs, args.example_size))
            if args.save_inputs:
                np.savez(args.save_inputs, **inputs)
                print(f"wrote {sorted(inputs)} to {args.save_inputs}")
            if not inputs:
                print(
                    json.dumps(
                        {
                            "status": client.status(args.model, args.version, args.label),
                            "metadata": client.metadata(args.model, args.version, args.label),
                        },
                        indent=2,
                    )
                )
                return 0
            for name, value in inputs.items():
                print(f"input {name} {value.dtype} {list(value.shape)}")
            outputs = client.predict(args.model, inputs, args.signature, args.version, args.label)
    except (ServingClientError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # connection refused, timeouts: urllib's errors are OSErrors
        print(f"error: cannot reach {args.server} over {args.protocol.upper()} ({err})", file=sys.stderr)
        return 1
    np.set_printoptions(precision=4, suppress=True, threshold=200)
    for name, value in outputs.items():
        print(f"{name} {value.dtype} {list(value.shape)}:\n{value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
