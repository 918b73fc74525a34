"""Optical flow in colour beside its frames."""

import numpy as np

from keras_l11.figures import plt


def flow_colours(flow, max_speed=None):
    """Flow `[H, W, 2]` as RGB uint8: hue is the direction, brightness the speed
    (the usual optical-flow colour coding); `max_speed` pixels is full brightness
    (default: the frame's 99th percentile)."""
    import matplotlib.colors

    u, v = flow[..., 0], flow[..., 1]
    speed = np.hypot(u, v)
    top = max_speed or max(float(np.percentile(speed, 99)), 1e-6)
    hsv = np.stack([(np.arctan2(v, u) / (2 * np.pi)) % 1.0, np.ones_like(u), np.clip(speed / top, 0, 1)], -1)
    return np.round(matplotlib.colors.hsv_to_rgb(hsv) * 255).astype(np.uint8)


def plot_video_flow(videos, flows, path, titles=None, steps=(0, 4, 8)):
    """A row per video: frames at `steps` and the flow from each to the next
    (colour-coded: hue the direction, brightness the speed); `titles` label the rows."""
    n, m = len(videos), len(steps)
    fig, axes = plt.subplots(n, 2 * m, figsize=(1.6 * 2 * m, 1.8 * n), squeeze=False)
    for k in range(n):
        top = max(float(np.percentile(np.hypot(*np.moveaxis(flows[k][list(steps)], -1, 0)), 99)), 1e-6)
        for j, t in enumerate(steps):
            axes[k, 2 * j].imshow(videos[k][t])
            axes[k, 2 * j + 1].imshow(flow_colours(np.asarray(flows[k][t], np.float32), top))
            if k == 0:
                axes[k, 2 * j].set_title(f"frame {t}", fontsize=8)
                axes[k, 2 * j + 1].set_title(f"flow {t}->{t + 1}", fontsize=8)
        axes[k, 0].set_ylabel(titles[k] if titles else "", fontsize=7)
        for ax in axes[k]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
