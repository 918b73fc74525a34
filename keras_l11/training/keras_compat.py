"""Workarounds for Keras 3's TensorFlow trainer under MultiWorkerMirroredStrategy.

Keras 3 (3.15 here) cannot `fit` under `MultiWorkerMirroredStrategy` as shipped;
see tensorflow/tensorflow#72388 ("tf.distribute and keras 3 incompatibility:
Invalid reduction dimension 0 for input with 0 dimensions"), closed without a fix.
Two places fail, and both are mended here, narrowly:

1. Before training, the trainer builds the model from the first batch with
   `strategy.reduce("MEAN", (x, y))`: the collective strategy cannot reduce a
   tuple of per-replica values. `build_from_spec` builds model, loss, metrics
   and optimizer from the dataset's element spec instead (no data needed) and
   turns the data-driven build off for that model.
2. Every step, the trainer reduces the step's logs across workers with
   `strategy.reduce("MEAN", value, axis=0)`, which fails for scalars (every
   loss and metric). `patch_multi_worker_log_reduction` reduces rank-0 values
   with `axis=None` (the mean over replicas) and leaves everything else, and
   every other strategy, to Keras.
"""

import tensorflow as tf

_original_reduce_per_replica = None


def build_from_spec(model, strategy, element_spec):
    """Builds a compiled model's state from shapes; skips Keras's build-from-data."""
    with strategy.scope():
        model._symbolic_build(data_batch=element_spec)
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None


def _reduce_per_replica(values, strategy, reduction="auto"):
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer as tf_trainer

    if reduction in ("auto", "mean") and tf_trainer._collective_all_reduce_multi_worker(strategy):

        def reduce(value):
            local = value
            if isinstance(value, tf.distribute.DistributedValues):
                local = strategy.experimental_local_results(value)[0]
            if getattr(getattr(local, "shape", None), "rank", None) == 0:
                return strategy.reduce("MEAN", value, axis=None)
            return _original_reduce_per_replica(value, strategy, reduction)

        return tree.map_structure(reduce, values)
    return _original_reduce_per_replica(values, strategy, reduction)


def patch_multi_worker_log_reduction():
    """Installs the scalar-safe reduction (idempotent). Private Keras modules
    are imported here, not at import time, so other runs never depend on them."""
    global _original_reduce_per_replica
    from keras.src.backend.tensorflow import trainer as tf_trainer

    if _original_reduce_per_replica is None:
        _original_reduce_per_replica = tf_trainer.reduce_per_replica
    tf_trainer.reduce_per_replica = _reduce_per_replica
