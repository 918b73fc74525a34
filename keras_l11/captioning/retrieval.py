"""Image-sentence ranking: images and sentences embedded in one space where a
sentence lies near the images it describes (the lecture's "ranking and
retrieval"; Karpathy & Fei-Fei 2015, Kiros et al. 2014).

An image encoder (a CNN and a linear map) and a sentence encoder (word
embeddings and a bidirectional LSTM, then a linear map) each give a unit
vector; similarity is their dot product. Training uses the bidirectional
ranking loss over the batch: each image should score its own sentence above
every other sentence of the batch by a margin, and each sentence its own
image above every other image.
"""

import keras
import tensorflow as tf
from keras import layers

from keras_l11.layers import backbones


@keras.saving.register_keras_serializable(package="keras_l11")
class BidirectionalRankingLoss(keras.losses.Loss):
    """Per pair i of a batch's `similarity [B, B]` (image i vs sentence j):
    `sum_j max(0, margin - s_ii + s_ij) + sum_j max(0, margin - s_ii + s_ji)`
    over j != i. `y_true` is ignored (pair i is image i and sentence i)."""

    def __init__(self, margin=0.2, name="bidirectional_ranking", **kwargs):
        super().__init__(name=name, **kwargs)
        self.margin = margin

    def call(self, y_true, similarity):
        similarity = tf.cast(similarity, tf.float32)
        positive = tf.linalg.diag_part(similarity)[:, None]
        others = 1.0 - tf.eye(tf.shape(similarity)[0])
        image_to_text = tf.nn.relu(self.margin - positive + similarity) * others
        text_to_image = tf.nn.relu(self.margin - positive + tf.transpose(similarity)) * others
        return tf.reduce_sum(image_to_text, axis=1) + tf.reduce_sum(text_to_image, axis=1)

    def get_config(self):
        return {**super().get_config(), "margin": self.margin}


@keras.saving.register_keras_serializable(package="keras_l11")
class ImageSentenceEmbedding(keras.Model):
    """Similarities `[B, B]` of a batch's images and sentences (pair i is
    image i and sentence i); `embed_images` and `embed_sentences` give the
    unit vectors for retrieval.

    Inputs: `images [B, H, W, 3]` (0-255) and `sentences [B, T]` (int32 word
    ids, 0 pads).

    Args:
        vocab_size: int, including padding (0).
        height, width: the image size.
        backbone, weights, dense_units: the CNN (`keras_l11.layers.backbones`).
        embedding_dim: the shared space's size.
        word_dim: the word embeddings' size.
        units: the sentence LSTM's size (each direction).

    Example:

    ```python
    model = ImageSentenceEmbedding(tokenizer.vocab_size, 224, 224, "VGG16", "imagenet", (4096,), 1024)
    model.compile("adam", BidirectionalRankingLoss(0.2))
    ranked = tf.argsort(model.embed_sentences(ids) @ tf.transpose(model.embed_images(gallery)), direction="DESCENDING")
    ```
    """

    def __init__(
        self,
        vocab_size,
        height,
        width,
        backbone="small_cnn",
        weights=None,
        dense_units=(256,),
        embedding_dim=128,
        word_dim=128,
        units=128,
        **kwargs,
    ):
        # Layers: two encoders into one space.
        cnn = backbones.image_encoder(backbone, height, width, weights, dense_units, model_name="image_cnn")
        image_vector = layers.UnitNormalization(name="image_unit")(
            layers.Dense(embedding_dim, name="image_map")(cnn.output)
        )
        image_encoder = keras.Model(cnn.input, image_vector, name="image_encoder")
        words = keras.Input((None,), dtype="int32", name="words")
        x = layers.Embedding(vocab_size, word_dim, mask_zero=True, name="word_embedding")(words)
        x = layers.Bidirectional(layers.LSTM(units), name="sentence_lstm")(x)
        sentence_vector = layers.UnitNormalization(name="sentence_unit")(
            layers.Dense(embedding_dim, name="sentence_map")(x)
        )
        sentence_encoder = keras.Model(words, sentence_vector, name="sentence_encoder")

        # The functional graph: all pairs' similarities.
        images = keras.Input((height, width, 3), name="images")
        sentences = keras.Input((None,), dtype="int32", name="sentences")
        scores = keras.ops.matmul(image_encoder(images), keras.ops.transpose(sentence_encoder(sentences)))
        super().__init__({"images": images, "sentences": sentences}, scores, **kwargs)

        # Config.
        self.vocab_size, self.height, self.width = vocab_size, height, width
        self.backbone, self.weights_source, self.dense_units = backbone, weights, tuple(dense_units)
        self.embedding_dim, self.word_dim, self.units = embedding_dim, word_dim, units
        self.image_encoder, self.sentence_encoder = image_encoder, sentence_encoder

    def embed_images(self, images):
        """Unit vectors `[B, embedding_dim]` of images (0-255)."""
        return self.image_encoder(tf.cast(images, tf.float32), training=False)

    def embed_sentences(self, ids):
        """Unit vectors `[B, embedding_dim]` of padded word ids."""
        return self.sentence_encoder(tf.cast(ids, tf.int32), training=False)

    def get_config(self):
        return {
            "name": self.name,
            "vocab_size": self.vocab_size,
            "height": self.height,
            "width": self.width,
            "backbone": self.backbone,
            "weights": self.weights_source,
            "dense_units": self.dense_units,
            "embedding_dim": self.embedding_dim,
            "word_dim": self.word_dim,
            "units": self.units,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
