"""Adversarial examples beside their originals and the distortion between."""

import numpy as np

from keras_l11.figures import plt


def plot_adversarial_examples(examples, path):
    """A row per `(image, adversarial, title)`: x, the perturbation r magnified
    (grey is 0; its largest |r| is black or white) and x + r."""
    fig, axes = plt.subplots(len(examples), 3, figsize=(5.4, 1.9 * len(examples)), squeeze=False)
    for row, (image, adversarial, title) in zip(axes, examples):
        r = np.asarray(adversarial, np.float32) - np.asarray(image, np.float32)
        panels = (image, 0.5 + 0.5 * r / max(float(np.abs(r).max()), 1e-8), adversarial)
        for ax, picture, name in zip(row, panels, ("x", "r (magnified)", "x + r")):
            ax.imshow(picture, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(name, fontsize=8)
        row[0].set_ylabel(title, fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
