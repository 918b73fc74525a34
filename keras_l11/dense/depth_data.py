"""Depth data: rendered rooms with exact depth (offline), NYU Depth v2 through
TFDS, and scikit-image's real stereo pair for a qualitative picture.

A rendered scene is a pinhole camera 1.5 m above the floor of a box-shaped
room (floor, ceiling, back and side walls at random distances) holding a few
spheres and boxes that stand on the floor. Every pixel's ray is intersected
with every surface analytically; the nearest hit gives the depth (the z
distance, as depth cameras report it) and the surface whose colour, texture
(checker floor, striped walls) and Lambert shading make the image. Depth cues
are the ones monocular networks learn from real rooms: perspective of the
floor and walls, texture gradients, sizes of objects and occlusion.
"""

import numpy as np

CAMERA_HEIGHT = 1.5


def _rays(width, height):
    """Ray directions `[H, W, 3]` with z = 1 (so a hit's ray parameter is its depth)."""
    focal = 0.9 * width
    u = (np.arange(width) + 0.5 - width / 2) / focal
    v = -(np.arange(height) + 0.5 - height / 2) / focal
    x, y = np.meshgrid(u, v)
    return np.stack([x, y, np.ones_like(x)], axis=-1)


def _plane(rays, axis, offset):
    """Ray parameter of the plane `coordinate[axis] = offset` (inf where missed)."""
    d = rays[..., axis]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = offset / d
    return np.where((t > 0) & np.isfinite(t), t, np.inf)


def _sphere(rays, centre, radius):
    b = rays @ centre
    a = np.sum(rays * rays, axis=-1)
    disc = b * b - a * (centre @ centre - radius * radius)
    t = (b - np.sqrt(np.maximum(disc, 0))) / a
    return np.where((disc > 0) & (t > 0), t, np.inf)


def _box(rays, low, high):
    with np.errstate(divide="ignore", invalid="ignore"):
        t1, t2 = low / rays, high / rays
    near = np.nanmax(np.minimum(t1, t2), axis=-1)
    far = np.nanmin(np.maximum(t1, t2), axis=-1)
    return np.where((near < far) & (near > 0), near, np.inf)


def render_scene(rng, width=64, height=48):
    """`{"image": uint8 [H, W, 3], "depth": float32 [H, W] metres}` of a random
    room; up to two rectangles of the depth map are missing (0)."""
    rays = _rays(width, height)
    half_width, ceiling, back = rng.uniform(1.8, 3.5), rng.uniform(1.0, 1.6), rng.uniform(5.0, 10.0)
    surfaces = [  # (ray parameter, colour, kind)
        (_plane(rays, 1, -CAMERA_HEIGHT), rng.uniform(60, 200, 3), "floor"),
        (_plane(rays, 1, ceiling), rng.uniform(150, 250, 3), "ceiling"),
        (_plane(rays, 2, back), rng.uniform(60, 230, 3), "wall"),
        (_plane(rays, 0, -half_width), rng.uniform(60, 230, 3), "wall"),
        (_plane(rays, 0, half_width), rng.uniform(60, 230, 3), "wall"),
    ]
    for _ in range(rng.integers(1, 4)):
        radius = rng.uniform(0.25, 0.7)
        centre = np.array([rng.uniform(-1.5, 1.5), radius - CAMERA_HEIGHT, rng.uniform(2.0, back - 1.0)])
        surfaces.append((_sphere(rays, centre, radius), rng.uniform(0, 255, 3), "object"))
    for _ in range(rng.integers(0, 3)):
        size = rng.uniform(0.3, 1.0, 3)
        x, z = rng.uniform(-1.5, 1.5), rng.uniform(2.0, back - 1.0)
        low = np.array([x - size[0] / 2, -CAMERA_HEIGHT, z - size[2] / 2])
        surfaces.append((_box(rays, low, low + size), rng.uniform(0, 255, 3), "object"))
    hits = np.stack([t for t, _, _ in surfaces])
    nearest = np.argmin(hits, axis=0)
    depth = np.min(hits, axis=0)
    points = rays * depth[..., None]
    light = np.array([0.3, 0.8, -0.5]) / np.linalg.norm([0.3, 0.8, -0.5])
    image = np.zeros((height, width, 3))
    for k, (_, colour, kind) in enumerate(surfaces):
        where = nearest == k
        p = points[where]
        if kind == "floor":
            shade = 0.75 + 0.25 * ((np.floor(p[:, 0] * 2) + np.floor(p[:, 2] * 2)) % 2)
        elif kind == "wall":
            shade = 0.85 + 0.15 * (np.floor((p[:, 0] + p[:, 2]) * 3) % 2)
        elif kind == "ceiling":
            shade = np.full(len(p), 0.95)
        else:  # objects: Lambert shading from an approximate normal (screen-space depth gradient)
            gy, gx = np.gradient(depth)
            normal = np.stack([-gx[where], gy[where], np.ones(len(p)) * 0.05], axis=-1)
            normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
            shade = 0.35 + 0.65 * np.clip(normal @ light, 0, 1)
        image[where] = colour * shade[:, None] / (1 + 0.04 * depth[where, None])
    image += rng.normal(0, 3, image.shape)
    depth = depth.astype(np.float32)
    for _ in range(rng.integers(0, 3)):  # holes with no depth (0), as a Kinect leaves on dark or shiny surfaces
        h, w = rng.integers(2, height // 4), rng.integers(2, width // 4)
        y, x = rng.integers(0, height - h), rng.integers(0, width - w)
        depth[y : y + h, x : x + w] = 0.0
    return {"image": np.clip(np.round(image), 0, 255).astype(np.uint8), "depth": depth}


def rendered_scenes(count, seed=0, width=64, height=48):
    rng = np.random.default_rng(seed)
    return [render_scene(rng, width, height) for _ in range(count)]


def nyu_depth_v2(split, width, height):
    """NYU Depth v2 from TFDS (`nyu_depth_v2`, prepared beforehand) as Eigen et al.
    (2014) use it: each 640 x 480 frame halved to 320 x 240 (the image with
    antialiasing, the depth by taking every other pixel, so missing pixels stay 0),
    then the central `width x height` (the paper's 304 x 228)."""
    import tensorflow as tf

    from keras_l11.data.install import prepared_tfds

    data = prepared_tfds("nyu_depth_v2", split)
    examples = []
    for ex in data:
        full_h, full_w = ex["image"].shape[:2]
        half_h, half_w = full_h // 2, full_w // 2
        if half_h < height or half_w < width:
            raise ValueError(f"nyu_depth_v2 frames of {full_w} x {full_h} halve to less than {width} x {height}")
        image = tf.image.resize(ex["image"], [half_h, half_w], antialias=True).numpy()
        depth = np.asarray(ex["depth"], np.float32)[::2, ::2]
        top, left = (half_h - height) // 2, (half_w - width) // 2
        examples.append(
            {
                "image": np.uint8(np.clip(np.round(image[top : top + height, left : left + width]), 0, 255)),
                "depth": depth[top : top + height, left : left + width],
            }
        )
    return examples


def stereo_motorcycle():
    """scikit-image's Middlebury motorcycle pair: `(left image uint8, disparity
    float32 with inf where unknown)`. Depth is proportional to 1 / disparity."""
    from skimage import data

    left, _, disparity = data.stereo_motorcycle()
    return left, disparity.astype(np.float32)
