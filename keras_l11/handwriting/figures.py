"""Handwriting figures: pen strokes as PNG and SVG, and the synthesis window."""

import numpy as np

from keras_l11.figures import plt


def pen_strokes(offsets):
    """Offsets `(dx, dy, end_of_stroke) [N, 3]` -> a list of `[n, 2]` polylines
    (absolute x, y with y up), one per pen-down stroke."""
    offsets = np.asarray(offsets, np.float32)
    xy = np.cumsum(offsets[:, :2], axis=0)
    ends = np.flatnonzero(offsets[:, 2] > 0.5) + 1
    return [s for s in np.split(xy, ends) if len(s)]


def strokes_svg(offsets, stroke_width=1.5, margin=5.0, colour="black"):
    """An SVG document (str) of the pen strokes, y pointing down as SVG wants."""
    strokes = pen_strokes(offsets)
    if not strokes:
        return '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>'
    xy = np.concatenate(strokes)
    low, high = xy.min(axis=0), xy.max(axis=0)
    width, height = high - low + 2 * margin

    def svg_point(p):
        return f"{p[0] - low[0] + margin:.2f},{high[1] - p[1] + margin:.2f}"

    paths = [f'<path d="M{svg_point(s[0])} ' + " ".join(f"L{svg_point(p)}" for p in s[1:]) + '"/>' for s in strokes]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.2f} {height:.2f}">\n'
        f'<g fill="none" stroke="{colour}" stroke-width="{stroke_width}" stroke-linecap="round" '
        f'stroke-linejoin="round">\n' + "\n".join(paths) + "\n</g>\n</svg>\n"
    )


def _draw_strokes(ax, offsets, colour="black"):
    for stroke in pen_strokes(offsets):
        ax.plot(stroke[:, 0], stroke[:, 1], color=colour, linewidth=1.2, solid_capstyle="round")
    ax.set_aspect("equal")
    ax.axis("off")


def plot_handwriting(rows, path, title=None):
    """One line of handwriting per row, labelled: `rows` = [(label, offsets)];
    an offsets entry may be a `(prime, continuation)` pair, drawn in grey and
    black, the continuation starting where the prime ends."""
    fig, axes = plt.subplots(len(rows), 1, figsize=(10, 1.3 * len(rows)), squeeze=False)
    for ax, (label, offsets) in zip(axes[:, 0], rows):
        if isinstance(offsets, tuple):
            prime, rest = (np.asarray(o, np.float32) for o in offsets)
            _draw_strokes(ax, prime, "0.6")
            shifted = rest.copy()
            if len(shifted) and len(prime):
                shifted[0, :2] += prime[:, :2].sum(axis=0)
            _draw_strokes(ax, shifted)
        else:
            _draw_strokes(ax, offsets)
        ax.set_title(label, fontsize=9, loc="left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_window_weights(offsets, phi, text, path):
    """Graves' (2013) Fig. 13: the handwriting above, and below it the soft
    window's weights phi (characters x pen points) while it was written."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 5), gridspec_kw={"height_ratios": [1, 2]})
    _draw_strokes(top, offsets)
    bottom.imshow(np.asarray(phi).T, aspect="auto", cmap="gray_r", interpolation="nearest", origin="upper")
    bottom.set_yticks(range(len(text)))
    bottom.set_yticklabels([c if c != " " else "␣" for c in text], fontsize=8)
    bottom.set_xlabel("pen point")
    bottom.set_title("window weights", fontsize=9, loc="left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
