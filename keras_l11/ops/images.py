"""What the image jobs share: encoded images in signatures, each image
resized to a network's fixed input, and in-memory image data sets."""

import tensorflow as tf


def encode_png(image):
    """A uint8 image `[H, W, 3]` as PNG bytes, what clients send to the image signatures."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def decode_images(encoded):
    """Encoded images (PNG, JPEG, GIF, BMP) `[B]` -> `(images [B, H, W, 3]
    float32 0-255, padded at the bottom and right to the largest, sizes [B, 2])`.
    Each image is decoded twice (once for the batch's padded size): cheap next
    to the CNN, and it keeps the signature one plain graph."""

    def decode(data):
        return tf.io.decode_image(data, channels=3, expand_animations=False)

    sizes = tf.map_fn(lambda data: tf.shape(decode(data))[:2], encoded, fn_output_signature=tf.int32)
    height, width = tf.reduce_max(sizes[:, 0]), tf.reduce_max(sizes[:, 1])
    images = tf.map_fn(
        lambda data: tf.image.pad_to_bounding_box(tf.cast(decode(data), tf.float32), 0, 0, height, width),
        encoded,
        fn_output_signature=tf.float32,
    )
    return images, sizes


def resize_each(pixels, sizes, height, width):
    """Images `[B, H, W, 3]` padded at the bottom and right (`decode_images`),
    each cut to its own `sizes[b]` and resized to `height x width`."""
    return tf.map_fn(
        lambda args: tf.image.resize(args[0][: args[1][0], : args[1][1]], [height, width]),
        (pixels, sizes),
        fn_output_signature=tf.float32,
    )


def image_dataset(images, targets, batch, shuffle_seed=None):
    """Batches `(images float32, targets)` of in-memory uint8 `images`; with a
    `shuffle_seed`, shuffled and endless (training), else one pass in order."""
    ds = tf.data.Dataset.from_tensor_slices((images, targets))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(images), seed=shuffle_seed).repeat()
    return ds.batch(batch).map(lambda x, y: (tf.cast(x, tf.float32), y)).prefetch(tf.data.AUTOTUNE)
