"""Segmentation masks and depth maps beside their images."""

import numpy as np

from keras_l11.figures import plt


def label_colours(num_classes):
    """`[num_classes, 3]` uint8: black for background (0), distinct colours after."""
    palette = "tab10" if num_classes <= 11 else "tab20"  # ten saturated colours when they suffice
    size = 10 if palette == "tab10" else 20
    colours = (plt.get_cmap(palette)(np.arange(num_classes - 1) % size)[:, :3] * 255).astype(np.uint8)
    colours[np.all(np.ptp(colours, axis=1, keepdims=True) < 10, axis=1)] = (255, 230, 0)  # greys read as background
    return np.concatenate([np.zeros((1, 3), np.uint8), colours])


def overlay(image, labels, num_classes, ignore_label=255, opacity=0.8):
    """The image in dimmed grey with each labelled pixel in its class colour
    (ignored pixels white), so that labels read on any background."""
    colours = np.concatenate([label_colours(num_classes), np.full((256 - num_classes, 3), 255, np.uint8)])
    grey = np.asarray(image, np.float32) @ np.array([0.299, 0.587, 0.114]) * 0.5
    tint = colours[np.where(labels == ignore_label, 255, labels)].astype(np.float32)
    mix = np.where((labels > 0)[..., None], opacity, 0.0)
    return (grey[..., None] * (1 - mix) + tint * mix).astype(np.uint8)


def plot_segmentation(images, predicted, truths, class_names, path):
    """A row per image: the image, its labels and the prediction, tinted by class."""
    n, c = len(images), len(class_names)
    fig, axes = plt.subplots(n, 3, figsize=(7.5, 2.6 * n), squeeze=False)
    for k in range(n):
        for ax, picture, title in zip(
            axes[k],
            (images[k], overlay(images[k], truths[k], c), overlay(images[k], predicted[k], c)),
            ("image", "labels", "prediction"),
        ):
            ax.imshow(picture)
            ax.set_title(title if k == 0 else "", fontsize=9)
            ax.axis("off")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colour / 255) for colour in label_colours(c)[1:]]
    fig.legend(handles, class_names[1:], loc="lower center", ncol=min(10, c - 1), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_depth(rows, path, titles):
    """A row per example, one panel per map (`rows`: lists of images or depth
    maps); depth maps share one colour scale per row (near yellow, far blue)."""
    n, m = len(rows), len(rows[0])
    fig, axes = plt.subplots(n, m, figsize=(2.8 * m, 2.3 * n), squeeze=False)
    for k, row in enumerate(rows):
        maps = [np.asarray(p, np.float32) for p in row if np.ndim(p) == 2]
        finite = np.concatenate([d[np.isfinite(d) & (d > 0)].ravel() for d in maps]) if maps else np.zeros(1)
        low, high = np.percentile(finite, [2, 98]) if finite.size else (0, 1)
        for j, picture in enumerate(row):
            ax = axes[k, j]
            if np.ndim(picture) == 3:
                ax.imshow(picture)
            else:
                ax.imshow(np.where(np.asarray(picture) > 0, picture, np.nan), cmap="viridis_r", vmin=low, vmax=high)
            ax.set_title(titles[j] if k == 0 else "", fontsize=9)
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
