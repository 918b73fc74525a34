"""Device set-up and `tf.distribute` strategy choice.

Both must happen before TensorFlow creates its devices, so `setup_devices`
is the first thing a job runs.
"""

import json
import os

import tensorflow as tf

from keras_l11.training.cli import STRATEGIES


def setup_devices(cpu_devices=0, intra_op_threads=0, inter_op_threads=0):
    """Splits the CPU into `cpu_devices` logical devices and sets thread pools.

    Two logical CPU devices let `MirroredStrategy` run (and be tested) on a
    machine without GPUs. Thread counts of 0 keep TensorFlow's defaults.
    """
    if intra_op_threads:
        tf.config.threading.set_intra_op_parallelism_threads(intra_op_threads)
    if inter_op_threads:
        tf.config.threading.set_inter_op_parallelism_threads(inter_op_threads)
    if cpu_devices and cpu_devices > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(cpu_devices)]
        )


def cluster_workers():
    """Number of workers (chief included) that `TF_CONFIG` names, 0 without one."""
    cluster = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}").get("cluster", {})
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def resolve(name):
    """What `auto` means here: multi_worker, mirrored or default."""
    if name not in STRATEGIES:
        raise ValueError(f"--strategy must be one of {STRATEGIES}, got {name!r}")
    if name != "auto":
        return name
    if cluster_workers() > 1:
        return "multi_worker"
    if len(tf.config.list_physical_devices("GPU")) > 1:
        return "mirrored"
    return "default"


def make_strategy(name):
    """Creates the strategy `name` (`auto` resolved first)."""
    name = resolve(name)
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    return tf.distribute.get_strategy()


def worker_index(strategy):
    """This worker's index (0 on the chief and in single-worker strategies)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return 0
    if resolver.task_type == "chief":
        return 0
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_id + (1 if has_chief else 0)


def is_chief(strategy):
    return worker_index(strategy) == 0
