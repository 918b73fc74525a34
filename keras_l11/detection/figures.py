"""Detections drawn on their images."""

import numpy as np

from keras_l11.figures import plt


def plot_detections(images, detections, class_names, path, truths=None, min_score=0.3, columns=4):
    """Images side by side (up to `columns` a row), each with its detections
    (`{"boxes", "scores", "classes"}`) drawn and labelled ("7 0.93"), and its
    labelled boxes dashed in white when `truths` (`{"boxes", ...}` each) are given."""
    count = len(images)
    rows, columns = -(-count // columns), min(count, columns)
    height, width = np.asarray(images[0]).shape[:2]
    fig, axes = plt.subplots(rows, columns, figsize=(3.5 * columns, 3.5 * rows * height / width), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < count:
            _draw_detections(ax, images[k], detections[k], class_names, truths and truths[k], min_score)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _draw_detections(ax, image, detections, class_names, truth, min_score):
    ax.imshow(np.asarray(image, np.uint8))
    if truth is not None:
        for x1, y1, x2, y2 in np.asarray(truth["boxes"]).reshape(-1, 4):
            ax.add_patch(plt.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, ec="white", ls="--", lw=1))
    for (x1, y1, x2, y2), score, cls in zip(detections["boxes"], detections["scores"], detections["classes"]):
        if score < min_score:
            continue
        ax.add_patch(plt.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, ec="yellow", lw=1.5))
        label = f"{class_names[int(cls)]} {score:.2f}"
        ax.text(x1, y1, label, color="black", fontsize=8, va="bottom", backgroundcolor="yellow")
