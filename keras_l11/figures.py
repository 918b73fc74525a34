"""Figures shared by the topics (PNG, headless): a headless pyplot and image grids.

Each topic draws its own figures in `keras_l11.<topic>.figures`, on this `plt`.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def tile_images(images, columns):
    """Images `[N, H, W]` as one `[rows * (H + 1) - 1, columns * (W + 1) - 1]` mosaic
    with 1-pixel grey gutters."""
    images = np.asarray(images, np.float32)
    n, h, w = images.shape
    rows = -(-n // columns)
    mosaic = np.full((rows * (h + 1) - 1, columns * (w + 1) - 1), 0.5, np.float32)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        mosaic[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = image
    return mosaic


def plot_image_grids(panels, path, columns=8, title=None):
    """Side-by-side grids of grey images in [0, 1] (`panels`: title -> `[N, H, W]`),
    e.g. generated samples next to real test images."""
    rows = -(-max(len(images) for images in panels.values()) // columns)
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.2 * rows / columns + 0.6), squeeze=False)
    for ax, (name, images) in zip(axes[0], panels.items()):
        ax.imshow(tile_images(images, columns), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_labelled_images(images, titles, path, columns=5, title=None):
    """Grey images in [0, 1] in a grid, each with its title."""
    rows = -(-len(images) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.7 * columns, 1.9 * rows + 0.4), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, image, name in zip(axes.ravel(), images, titles):
        ax.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(name, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
