"""A tiny "half plus two" SavedModel with every kind of signature, for the
conformance tests, the serving benchmark and trying the server out.

Like TF Serving's own `saved_model_half_plus_two` test model (y = a*x + b),
built with TF1's SavedModel builder so that its classify and regress
signatures carry the method names TF Serving's Classify and Regress require.

Signatures:
    serving_default   (predict)  x float[-1]                 -> y float[-1]
    two_inputs        (predict)  x float[-1], z float[-1, 2] -> y, z_sum float[-1]
    bytes             (predict)  image_bytes string[-1]      -> echo_bytes string[-1], size int32[-1]
    classify_x_to_y   (classify) serialized tf.Example (x)    -> classes, scores
    regress_x_to_y    (regress)  serialized tf.Example (x)    -> outputs

    python tests/toy_models.py saved_models/half_plus_two --version 1 --b 2
"""

import argparse
import os
import shutil
import tempfile

import flatbuffers
import tensorflow as tf


def export_half_plus_two(base_path, version, a=0.5, b=2.0, x_shape=(None,)):
    """Writes `<base_path>/<version>/` (atomically) and returns its path. `x_shape`
    (None = any size) is the predict input's declared shape: TF Serving's own
    half_plus_two declares [-1, 1]."""
    v1 = tf.compat.v1
    final = os.path.join(base_path, str(version))
    os.makedirs(base_path, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".toy-", dir=base_path)
    os.rmdir(staging)  # the builder wants to create it
    with tf.Graph().as_default():
        a_var = v1.Variable(a, name="a")
        b_var = v1.Variable(b, name="b")
        x = v1.placeholder(tf.float32, list(x_shape), name="x")
        z = v1.placeholder(tf.float32, [None, 2], name="z")
        y = tf.add(a_var * x, b_var, name="y")
        z_sum = tf.reduce_sum(z, axis=1, name="z_sum")
        y_two = tf.add(y, z_sum, name="y_two")
        data = v1.placeholder(tf.string, [None], name="image_bytes")
        size = tf.strings.length(data, name="size")
        echo = tf.identity(data, name="echo_bytes")
        examples = v1.placeholder(tf.string, [None], name="tf_example")
        parsed = tf.io.parse_example(examples, {"x": tf.io.FixedLenFeature([1], tf.float32)})
        y_example = a_var * parsed["x"] + b_var  # [batch, 1]
        classes = tf.fill(tf.shape(y_example), "y")
        build = v1.saved_model
        signatures = {
            "serving_default": build.predict_signature_def({"x": x}, {"y": y}),
            "two_inputs": build.predict_signature_def({"x": x, "z": z}, {"y": y_two, "z_sum": z_sum}),
            "bytes": build.predict_signature_def({"image_bytes": data}, {"echo_bytes": echo, "size": size}),
            "classify_x_to_y": build.classification_signature_def(examples, classes, y_example),
            "regress_x_to_y": build.regression_signature_def(examples, y_example),
        }
        with v1.Session() as session:
            session.run(v1.global_variables_initializer())
            builder = build.Builder(staging)
            builder.add_meta_graph_and_variables(session, ["serve"], signature_def_map=signatures)
            builder.save()
    try:
        os.rename(staging, final)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def export_slow_model(base_path, version=1):
    """A model whose work a request chooses: `serving_default` takes `x` float[-1, 8]
    and `steps` int32[] and applies `x <- tanh(x W)` `steps` times (one small matmul
    each), so a large `steps` keeps the server busy for as long as a test needs."""
    v1 = tf.compat.v1
    final = os.path.join(base_path, str(version))
    with tf.Graph().as_default():
        x = v1.placeholder(tf.float32, [None, 8], name="x")
        steps = v1.placeholder(tf.int32, [], name="steps")
        w = v1.Variable(tf.eye(8) * 0.5, name="w")
        _, y = tf.while_loop(lambda i, a: i < steps, lambda i, a: (i + 1, tf.tanh(a @ w)), [0, x])
        signature = v1.saved_model.predict_signature_def({"x": x, "steps": steps}, {"y": tf.identity(y, "y")})
        with v1.Session() as session:
            session.run(v1.global_variables_initializer())
            builder = v1.saved_model.Builder(final)
            builder.add_meta_graph_and_variables(session, ["serve"], signature_def_map={"serving_default": signature})
            builder.save()
    return final


def export_running_sum(base_path, version=1):
    """A causal sequence model, as variable-length as the NTM's: `serving_default` takes
    `sequence` float[-1, -1] and returns `total` float[-1, -1], its running sum over
    time, so steps padded at the end leave the earlier outputs as they were."""
    v1 = tf.compat.v1
    final = os.path.join(base_path, str(version))
    with tf.Graph().as_default():
        sequence = v1.placeholder(tf.float32, [None, None], name="sequence")
        total = tf.math.cumsum(sequence, axis=1, name="total")
        signature = v1.saved_model.predict_signature_def({"sequence": sequence}, {"total": total})
        with v1.Session() as session:
            builder = v1.saved_model.Builder(final)
            builder.add_meta_graph_and_variables(session, ["serve"], signature_def_map={"serving_default": signature})
            builder.save()
    return final


def export_half_plus_two_tf2(base_path, version=1):
    """`y = 0.5 x + 2` saved by TF2's `tf.saved_model.save`, which writes the predict
    method name on every signature: `serving_default` (x float[-1, 1] -> y),
    `classify_x_to_y` (serialized tf.Example -> classes, scores) and `regress_x_to_y`
    (serialized tf.Example -> outputs), as TF Serving's saved_model_half_plus_two_tf2."""
    module = tf.Module()
    module.a, module.b = tf.Variable(0.5), tf.Variable(2.0)

    def parse(inputs):
        return tf.io.parse_example(inputs, {"x": tf.io.FixedLenFeature([1], tf.float32)})["x"]

    @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.float32)])
    def predict(x):
        return {"y": module.a * x + module.b}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def classify(inputs):
        y = module.a * parse(inputs) + module.b
        return {"classes": tf.fill(tf.shape(y), "y"), "scores": y}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def regress(inputs):
        return {"outputs": module.a * parse(inputs) + module.b}

    path = os.path.join(base_path, str(version))
    signatures = {"serving_default": predict, "classify_x_to_y": classify, "regress_x_to_y": regress}
    tf.saved_model.save(module, path, signatures=signatures)
    return path


def export_half_plus_two_tflite(base_path, version=1, signature_def=False):
    """`y = 0.5 x + 2` as `<version>/model.tflite` (input `x`, float [1, 1]); with
    `signature_def`, the input tensor is `tflite_input` and the model carries a
    `serving_default` SignatureDef (x -> tflite_input:0) in its `signature_defs_metadata`,
    as TF Serving's saved_model_half_plus_two_tflite_with_sigdef."""
    from flatbuffers import flexbuffers
    from tensorflow.core.protobuf import meta_graph_pb2
    from tensorflow.lite.python import schema_py_generated as schema

    name = "tflite_input" if signature_def else "x"
    fn = tf.function(lambda t: {"y": 0.5 * t + 2.0}, input_signature=[tf.TensorSpec([1, 1], tf.float32, name=name)])
    model = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()]).convert()
    if signature_def:
        interpreter = tf.lite.Interpreter(model_content=model)
        input_name = interpreter.get_input_details()[0]["name"]
        output_name = interpreter.get_output_details()[0]["name"]
        definition = meta_graph_pb2.SignatureDef(method_name="tensorflow/serving/predict")
        for kind, key, tensor in (("inputs", "x", input_name), ("outputs", "y", output_name)):
            info = getattr(definition, kind)[key]
            info.name, info.dtype = f"{tensor}:0", tf.float32.as_datatype_enum
            info.tensor_shape.dim.add(size=1)
            info.tensor_shape.dim.add(size=1)
        tree = schema.ModelT.InitFromPackedBuf(model, 0)
        buffer = schema.BufferT()
        buffer.data = list(flexbuffers.Dumps({"serving_default": definition.SerializeToString()}))
        tree.buffers.append(buffer)
        metadata = schema.MetadataT()
        metadata.name, metadata.buffer = "signature_defs_metadata", len(tree.buffers) - 1
        tree.metadata = [*(tree.metadata or []), metadata]
        builder = flatbuffers.Builder(1024)
        builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
        model = bytes(builder.Output())
    os.makedirs(os.path.join(base_path, str(version)), exist_ok=True)
    path = os.path.join(base_path, str(version), "model.tflite")
    with open(path, "wb") as f:
        f.write(model)
    return path


def main(argv=None):
    p = argparse.ArgumentParser(description="Export the half-plus-two toy model.")
    p.add_argument("base_path")
    p.add_argument("--version", type=int, default=1)
    p.add_argument("--a", type=float, default=0.5)
    p.add_argument("--b", type=float, default=2.0)
    args = p.parse_args(argv)
    print(export_half_plus_two(args.base_path, args.version, args.a, args.b))


if __name__ == "__main__":
    main()
