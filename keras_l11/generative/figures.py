"""The autoencoders' energy over the plane."""

import numpy as np

from keras_l11.figures import plt


def plot_energy_maps(maps, extent, points, path):
    """One panel per autoencoder (`maps`: title -> energy `[rows, cols]` over the
    plane `extent` = (x0, x1, y0, y1)), log-scaled, with the training points."""
    fig, axes = plt.subplots(1, len(maps), figsize=(3.3 * len(maps), 3.4), squeeze=False)
    for ax, (name, energy) in zip(axes[0], maps.items()):
        ax.imshow(np.log10(np.asarray(energy) + 1e-4), origin="lower", extent=extent, cmap="magma", vmin=-4, vmax=0.5)
        ax.scatter(points[:, 0], points[:, 1], s=1, c="cyan", alpha=0.4)
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("reconstruction energy log10 |y - dec(enc(y))|^2 (dark = low)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
