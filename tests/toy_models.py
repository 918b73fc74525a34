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

import tensorflow as tf


def export_half_plus_two(base_path, version, a=0.5, b=2.0):
    """Writes `<base_path>/<version>/` (atomically) and returns its path."""
    v1 = tf.compat.v1
    final = os.path.join(base_path, str(version))
    os.makedirs(base_path, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".toy-", dir=base_path)
    os.rmdir(staging)  # the builder wants to create it
    with tf.Graph().as_default():
        a_var = v1.Variable(a, name="a")
        b_var = v1.Variable(b, name="b")
        x = v1.placeholder(tf.float32, [None], name="x")
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
