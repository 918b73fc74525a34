"""The bfloat16 3-D convolution kernel gradient on this machine: how often
`keras.layers.Conv3D` gets it wrong and what `TimeConv3D` costs instead.

For each 3-D convolution of Karpathy et al.'s `paper` fusion models (early
fusion's first layer, slow fusion's first three), at the paper's frame size and
a tiny batch, every layer is called `--calls` times on the same input and
output gradient (without the activation, so that only the convolution is
measured). A kernel gradient is wrong when it is not finite or differs from
the exact one (float64, from the input's patches) by more than 5% of that
gradient's largest entry (bfloat16 rounding gives about 0.4%). Times are the
median train-direction call (forward, input and kernel gradients) of a traced
function.

    python -m benchmarks.conv3d_bfloat16 [--batch 2] [--calls 10]
"""

import argparse
import time

import keras
import numpy as np
import tensorflow as tf

from benchmarks.common import write_report
from keras_l11.training.harness import format_table
from keras_l11.video.clip_fusion import ClipFusionNet
from keras_l11.video.configs import VIDEO_FUSION_CONFIGS
from keras_l11.video.time_conv import TimeConv3D

TOLERANCE = 0.05


def paper_conv3d_layers():
    """`[(name, layer config, input shape without the batch)]` of the paper models' 3-D convolutions."""
    config = VIDEO_FUSION_CONFIGS["paper"]
    found = []
    for fusion in ("early", "slow"):
        model = ClipFusionNet(fusion, 101, config.height, config.width, tower=config.tower)
        for layer in model.layers:
            if isinstance(layer, keras.layers.Conv3D):
                found.append((f"{fusion} {layer.name}", layer.get_config(), tuple(layer.input.shape[1:])))
    return found


def train_direction(layer, x, dy):
    """A traced call returning the kernel gradient (the input gradient is computed too)."""

    @tf.function
    def call():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            total = tf.reduce_sum(tf.cast(y, tf.float32) * dy)
        dx, dk = tape.gradient(total, [x, layer.kernel])
        return dk, tf.reduce_sum(tf.cast(dx, tf.float32))

    return call


def exact_kernel_gradient(x, dy, config):
    """The kernel gradient of a VALID 3-D convolution in float64: each output
    gradient times the input patch it was computed from."""
    size, strides = config["kernel_size"], config["strides"]
    patches = tf.extract_volume_patches(x, [1, *size, 1], [1, *strides, 1], "VALID").numpy()
    patches = patches.astype(np.float64).reshape(-1, *size, x.shape[-1])  # (t, i, j, c) per patch
    return np.einsum("ntijc,nf->tijcf", patches, dy.numpy().reshape(-1, dy.shape[-1]).astype(np.float64))


def measure(config, shape, batch, calls, seed=0):
    """`{variant: (wrong calls, largest relative error, median seconds)}` for one layer."""
    rng = np.random.default_rng(seed)
    x = tf.constant(rng.uniform(-1, 1, (batch, *shape)), tf.float32)
    config = {k: v for k, v in config.items() if k not in ("name", "dtype")}
    if config["padding"] != "valid":
        raise ValueError(f"the exact gradient is written for padding 'valid', got {config['padding']!r}")
    config["activation"] = None
    variants = {
        "Conv3D float32": keras.layers.Conv3D(**config, dtype="float32"),
        "Conv3D bfloat16": keras.layers.Conv3D(**config, dtype="mixed_bfloat16"),
        "TimeConv3D bfloat16": TimeConv3D(**config, dtype="mixed_bfloat16"),
    }
    for layer in variants.values():
        layer.build(x.shape)
    weights = variants["Conv3D float32"].get_weights()
    out_shape = variants["Conv3D float32"].compute_output_shape(x.shape)
    dy = tf.constant(rng.normal(0, 1e-3, out_shape), tf.float32)
    reference = exact_kernel_gradient(x, dy, config)
    scale = np.abs(reference).max()
    results = {}
    for name, layer in variants.items():
        layer.set_weights(weights)
        inputs = x if name.endswith("float32") else tf.cast(x, tf.bfloat16)
        call = train_direction(layer, inputs, dy)
        call()  # trace
        wrong, worst, seconds = 0, 0.0, []
        for _ in range(calls):
            started = time.perf_counter()
            dk = call()[0].numpy()
            seconds.append(time.perf_counter() - started)
            error = np.abs(dk - reference).max() / scale if np.isfinite(dk).all() else np.inf
            worst = max(worst, error)
            wrong += not error <= TOLERANCE
        results[name] = (wrong, worst, float(np.median(seconds)))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--calls", type=int, default=10)
    flags = parser.parse_args(argv)
    rows = []
    for name, config, shape in paper_conv3d_layers():
        found = measure(config, shape, flags.batch, flags.calls)
        kernel = "x".join(map(str, config["kernel_size"]))
        rows.append(
            [
                f"{name} ({kernel}, input {'x'.join(map(str, shape))})",
                *(f"{found[v][0]}/{flags.calls} ({found[v][1]:.2g})" for v in found),
                *(f"{found[v][2] * 1000:.0f}" for v in found),
            ]
        )
    header = [
        f"paper 3-D convolution, batch {flags.batch}",
        "Conv3D f32 wrong (worst)",
        "Conv3D bf16 wrong (worst)",
        "TimeConv3D bf16 wrong (worst)",
        "Conv3D f32 ms",
        "Conv3D bf16 ms",
        "TimeConv3D bf16 ms",
    ]
    devices = ", ".join(sorted({d.device_type for d in tf.config.list_physical_devices()}))
    title = f"TensorFlow {tf.__version__}, devices: {devices}; "
    title += f"wrong = not finite or > {TOLERANCE:.0%} off the exact gradient"
    write_report("conv3d_bfloat16", [(title, format_table(header, rows))])


if __name__ == "__main__":
    main()
