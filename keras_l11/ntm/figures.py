"""The NTM's figure: what the heads read and write, step by step."""

import numpy as np

from keras_l11.figures import plt


def plot_ntm_addressing(inputs, targets, trace, path, title="NTM"):
    """The NTM paper's Figure 6 layout: inputs, outputs and head weightings.

    Args:
        inputs: `[time, input_width]`.
        targets: `[time, output_width]` (masked steps < 0 are shown blank).
        trace: `NeuralTuringMachine.addressing_trace(inputs)`.
        path: PNG file to write.
    """
    write = trace["write_weights"][:, 0].T
    read = trace["read_weights"][:, 0].T
    used = np.flatnonzero((write.max(axis=1) > 0.3) | (read.max(axis=1) > 0.3))
    rows = slice(max(used.min() - 2, 0), used.max() + 3) if used.size else slice(None)
    panels = [
        ("inputs", inputs.T),
        ("targets", np.where(targets < 0, np.nan, targets).T),
        ("outputs", np.where(targets < 0, np.nan, trace["probabilities"]).T),
        ("write weighting (memory rows x time)", write[rows]),
        ("read weighting (memory rows x time)", read[rows]),
    ]
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 10), sharex=True)
    for ax, (label, image) in zip(axes, panels):
        ax.imshow(image, aspect="auto", cmap="gray_r", interpolation="nearest", vmin=0, vmax=1)
        ax.set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center")
        ax.set_yticks([])
    axes[0].set_title(title)
    axes[-1].set_xlabel("time step")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
