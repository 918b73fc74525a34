"""The captioning and ranking models' exported signatures (`caption`, `embed_text`,
`embed_image`): what the jobs export and the tests, clients and web demos call."""

import tensorflow as tf

from keras_l11.captioning.task import decode_captions, sentence_ids
from keras_l11.ops.images import decode_images, resize_each
from keras_l11.training.export import Signature


def caption_signatures(model, tokenizer, config):
    def caption(images, beam_size):
        pixels, sizes = decode_images(images)
        resized = resize_each(pixels, sizes, model.height, model.width)
        index = tf.clip_by_value(beam_size, 1, config.max_beam_size) - 1
        branches = [
            lambda k=k: decode_captions(model, tokenizer, resized, k, config.max_length)
            for k in range(1, config.max_beam_size + 1)
        ]
        texts, log_probs = tf.switch_case(index, branches)
        return {"captions": texts, "log_probs": log_probs}

    inputs = {"images": tf.TensorSpec([None], tf.string), "beam_size": tf.TensorSpec([], tf.int32)}
    signature = Signature(caption, inputs)
    return {"serving_default": signature, "caption": signature}


def retrieval_signatures(model, tokenizer, config):
    def embed_text(sentences):
        return {"embeddings": model.embed_sentences(sentence_ids(tokenizer, sentences, config.max_length))}

    def embed_image(images):
        pixels, sizes = decode_images(images)
        return {"embeddings": model.embed_images(resize_each(pixels, sizes, model.height, model.width))}

    text = Signature(embed_text, {"sentences": tf.TensorSpec([None], tf.string)})
    image = Signature(embed_image, {"images": tf.TensorSpec([None], tf.string)})
    return {"serving_default": text, "embed_text": text, "embed_image": image}
