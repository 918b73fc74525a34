"""Figures people would rather look at than numbers (PNG, headless)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


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


# -- handwriting --------------------------------------------------------------


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


# -- detection ----------------------------------------------------------------


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


# -- dense prediction ---------------------------------------------------------


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
