"""Every Keras class the library registers survives serialization: a `.keras` file
(models, layers, wrapped in a model when they are not one) or Keras' own
serialize/deserialize (losses, metrics, initialisers, optimisers) gives an object whose outputs
are identical to the original's, and whose `get_config` holds every argument of its
constructor.

A class registered without an entry in `CASES` fails `test_every_registered_class_has_a_case`,
so a new class cannot skip these checks.
"""

import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_l11 import captioning, dense, detection, generative, handwriting, language, layers, ntm, video
from keras_l11.handwriting import data as hw
from keras_l11.training.optimizers import CaffeSGD

RNG = np.random.default_rng(0)


def floats(*shape):
    return RNG.normal(size=shape).astype(np.float32)


def ids(high, *shape):
    return RNG.integers(1, high, size=shape).astype(np.int32)


def model_inputs(model, batch=2, time=5):
    """Random inputs for a functional model: unknown dimensions become `time`."""

    def make(spec):
        shape = [batch] + [time if d is None else d for d in spec.shape[1:]]
        return ids(6, *shape) if "int" in str(spec.dtype) else floats(*shape)

    if isinstance(model.input, dict):
        return {name: make(spec) for name, spec in model.input.items()}
    out = [make(spec) for spec in model.inputs]
    return out[0] if len(out) == 1 else out


def wrapped(layer, *shapes, dtype="float32"):
    """A functional model around `layer` (a layer alone cannot be saved as a `.keras` file)."""
    inputs = [keras.Input(shape, dtype=dtype) for shape in shapes]
    return keras.Model(inputs, layer(*inputs))


def rnn(cell, width):
    inputs = keras.Input((None, width))
    return keras.Model(inputs, keras.layers.RNN(cell, return_sequences=True)(inputs))


# name -> (make the object, the inputs, how to call it). Models and layers go through a
# `.keras` file; losses, metrics and initialisers through keras.saving.serialize_keras_object.
CASES = {
    "NTMCell": (lambda: ntm.NTMCell(8, 6, 4), None, None),
    "NeuralTuringMachine": (lambda: ntm.NeuralTuringMachine(4, 3, controller_units=8, memory_size=6, memory_width=4),),
    "SequenceLSTM": (lambda: ntm.SequenceLSTM(4, 3, units=8, num_layers=2),),
    "SequenceBinaryCrossentropy": (ntm.SequenceBinaryCrossentropy,),
    "BitsPerSequence": (ntm.BitsPerSequence,),
    "BitErrorsPerSequence": (ntm.BitErrorsPerSequence,),
    "PeepholeLSTMCell": (lambda: language.PeepholeLSTMCell(8),),
    "RecurrentLanguageModel": (lambda: language.RecurrentLanguageModel(12, units=8, num_layers=2),),
    "Seq2SeqTranslator": (lambda: language.Seq2SeqTranslator(12, 9, units=8, num_layers=2),),
    "BitsPerCharacter": (language.BitsPerCharacter,),
    "Perplexity": (language.Perplexity,),
    "ByteTokenizer": (layers.ByteTokenizer,),
    "WordTokenizer": (lambda: layers.WordTokenizer(["the", "whale", "."], start_token="<eos>"),),
    "MixtureDensityHead": (lambda: handwriting.MixtureDensityHead(3),),
    "MixtureDensityLoss": (lambda: handwriting.MixtureDensityLoss(3),),
    "SoftWindow": (lambda: handwriting.SoftWindow(2),),
    "HandwritingPredictionNetwork": (lambda: handwriting.HandwritingPredictionNetwork(8, 2, 3),),
    "HandwritingSynthesisNetwork": (lambda: handwriting.HandwritingSynthesisNetwork(8, 2, 3, 2, alphabet=hw.ALPHABET),),
    "Localizer": (lambda: detection.Localizer(3, 32, dense_units=(8,)),),
    "RegionCNN": (lambda: detection.RegionCNN(3, 32, dense_units=(8,)),),
    "ClassBoxRegressionLoss": (detection.ClassBoxRegressionLoss,),
    "FCN": (lambda: dense.FCN(4, "8s", fc_units=8),),
    "PadToMultiple": (lambda: dense.PadToMultiple(8),),
    "CropLike": (dense.CropLike,),
    "BilinearInitializer": (lambda: dense.BilinearInitializer(2),),
    "DepthNetwork": (lambda: dense.DepthNetwork(48, 64, "fine", fc_units=16),),
    "ScaleInvariantLoss": (dense.ScaleInvariantLoss,),
    "StreamConvNet": (lambda: video.StreamConvNet("temporal", 4, 32, 32, flow_length=3, trajectory=True),),
    "LRCN": (lambda: video.LRCN("flow", 4, 32, 32, lstm_units=8),),
    "ClipFusionNet": (lambda: video.ClipFusionNet("slow", 4, 32, 32, multiresolution=True),),
    "LinearSVMFusion": (lambda: video.LinearSVMFusion(2, 4),),
    "FlowStack": (lambda: video.FlowStack(trajectory=True),),
    "LocalResponseNorm": (lambda: video.LocalResponseNorm(3),),
    "FrameDistributed": (lambda: video.FrameDistributed(keras.layers.Conv2D(3, 3, activation="relu")),),
    "TimeConv3D": (lambda: video.TimeConv3D(4, (2, 3, 3), (1, 2, 2), activation="relu"),),
    "CaptionNetwork": (lambda: captioning.CaptionNetwork(12, 32, 32, dense_units=(16,), embedding_dim=8, units=16),),
    "ImageSentenceEmbedding": (
        lambda: captioning.ImageSentenceEmbedding(12, 32, 32, dense_units=(16,), embedding_dim=8, word_dim=8, units=8),
    ),
    "BidirectionalRankingLoss": (captioning.BidirectionalRankingLoss,),
    "AutoregressiveBernoulli": (lambda: generative.AutoregressiveBernoulli(4),),
    "DARN": (lambda: generative.DARN(visible_shape=(2, 3), hidden=(3, 2), encoder_units=(4,)),),
    "Autoencoder": (lambda: generative.Autoencoder(6, code="sparse", code_units=12),),
    "CaffeSGD": (
        lambda: CaffeSGD(1e-3, momentum=0.99, learning_rate_multipliers=[("*/bias", 2.0)], l2_weight_decay=5e-4),
    ),
}


# Subclassed models (no functional inputs to read shapes from).
INPUTS = {
    "Autoencoder": lambda model: floats(2, 6),
    "DARN": lambda model: (floats(2, 2, 3) > 0).astype(np.float32),
    "HandwritingSynthesisNetwork": lambda model: {
        "points": floats(2, 5, 3),
        "text": model.encode(tf.constant(["the", "whale"])),
    },
}


def registered_classes():
    """Every class any module of the package registers (topic packages export
    lazily, so each module is imported here)."""
    import importlib
    import pkgutil

    import keras_l11

    for module in pkgutil.walk_packages(keras_l11.__path__, "keras_l11."):
        if not module.name.endswith("__main__"):  # a command, not a library module
            importlib.import_module(module.name)
    return {
        name.split(">", 1)[1]: cls
        for name, cls in keras.saving.get_custom_objects().items()
        if name.startswith("keras_l11>")
    }


def test_every_registered_class_has_a_case():
    assert sorted(registered_classes()) == sorted(CASES)


def constructor_arguments(cls):
    skip = {"self", "kwargs", "args"}
    return {n for n in inspect.signature(cls.__init__).parameters if n not in skip}


@pytest.mark.parametrize("name", sorted(CASES))
def test_get_config_holds_every_constructor_argument(name):
    obj = CASES[name][0]()
    missing = constructor_arguments(type(obj)) - set(obj.get_config())
    assert not missing, f"{name}.get_config() lacks {sorted(missing)}"


def round_trip_model(model, tmp_path):
    path = tmp_path / "model.keras"
    model.save(path)
    return keras.saving.load_model(path)


def as_model(obj):
    """`(model, inputs)`: `obj` itself when it is a model, else a model around the layer."""
    if isinstance(obj, keras.Model):
        name = type(obj).__name__
        return obj, INPUTS[name](obj) if name in INPUTS else model_inputs(obj)
    if isinstance(obj, (ntm.NTMCell, language.PeepholeLSTMCell)):
        model = rnn(obj, 3)
        return model, floats(2, 5, 3)
    name = type(obj).__name__
    if name == "MixtureDensityHead":
        return wrapped(obj, (None, 8)), floats(2, 5, 8)
    if name == "PadToMultiple":
        return wrapped(obj, (13, 10, 3)), floats(2, 13, 10, 3)
    if name == "CropLike":
        inputs = [keras.Input((16, 16, 2)), keras.Input((13, 10, 3))]
        return keras.Model(inputs, obj(*inputs)), [floats(2, 16, 16, 2), floats(2, 13, 10, 3)]
    if name == "FlowStack":
        return wrapped(obj, (3, 16, 16, 2)), floats(2, 3, 16, 16, 2)
    if name == "LocalResponseNorm":
        return wrapped(obj, (8, 8, 6)), floats(2, 8, 8, 6)
    if name == "FrameDistributed":  # an unknown number of frames
        return wrapped(obj, (None, 9, 9, 2)), floats(2, 4, 9, 9, 2)
    if name == "TimeConv3D":
        return wrapped(obj, (3, 9, 9, 2)), floats(2, 3, 9, 9, 2)
    if name == "AutoregressiveBernoulli":
        inputs = [keras.Input((4,)), keras.Input((4,))]
        model = keras.Model(inputs, obj(*inputs))
        return model, [(floats(2, 4) > 0).astype(np.float32), floats(2, 4)]
    raise AssertionError(f"no inputs for {name}")


# Layers that a functional model cannot wrap (string inputs, several call arguments):
# their config is serialized and their weights copied, as a `.keras` file would.
# name -> (the method to compare, its arguments)
LAYER_CALLS = {
    "ByteTokenizer": ("encode", lambda: [tf.constant(["the whale", "ahab"])]),
    "WordTokenizer": ("encode", lambda: [tf.constant(["the whale .", "the"])]),
    "SoftWindow": ("__call__", lambda: [floats(2, 6), np.abs(floats(2, 2)), np.eye(5, dtype=np.float32)[ids(5, 2, 7)]]),
}


def outputs(model, name, inputs):
    if name == "DARN":  # the exact likelihood: the call itself draws hidden units at random
        return model.exact_log_prob(inputs)
    return model(inputs)


def same(x, y):
    if isinstance(x, tf.RaggedTensor):
        assert x.to_list() == y.to_list()
    else:
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def assert_same(a, b):
    """Equal to the bit, element by element, however nested."""
    tf.nest.map_structure(same, a, b)


@pytest.mark.parametrize("name", sorted(CASES))
def test_round_trip_gives_identical_outputs(name, tmp_path):
    obj = CASES[name][0]()
    if isinstance(
        obj, (keras.losses.Loss, keras.metrics.Metric, keras.initializers.Initializer, keras.optimizers.Optimizer)
    ):
        again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(obj))
        assert type(again) is type(obj) and again.get_config() == obj.get_config()
        if isinstance(obj, keras.initializers.Initializer):
            assert_same(again((4, 4, 3, 3)), obj((4, 4, 3, 3)))
        return
    if name in LAYER_CALLS:
        method, make_args = LAYER_CALLS[name]
        args = make_args()
        before = getattr(obj, method)(*args)  # builds the layer
        again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(obj))
        getattr(again, method)(*args)
        again.set_weights(obj.get_weights())
        assert_same(getattr(again, method)(*args), before)
        return
    model, inputs = as_model(obj)
    before = outputs(model, name, inputs)
    again = round_trip_model(model, tmp_path)
    assert_same(outputs(again, name, inputs), before)
