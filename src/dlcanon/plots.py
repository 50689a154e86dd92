"""Matplotlib helpers: one style for every figure, image grids, PNG saving.

Importing this module changes no global state: figures are built with `matplotlib.figure.Figure` (no pyplot, so
no GUI backend is chosen or switched, and a notebook keeps its own), and the house style is applied inside
`style()` rather than written into the user's rcParams.
"""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import Iterator
from pathlib import Path

import matplotlib
import matplotlib.image
import torch
from matplotlib.axis import Axis
from matplotlib.backend_bases import RendererBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

STYLE = {
    "figure.dpi": 110,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


@contextlib.contextmanager
def style() -> Iterator[None]:
    """The house style for every figure made inside the block (the report's experiments, `dlcanon sample`)."""
    with matplotlib.rc_context(STYLE):
        yield


def figure(ncols: int = 1, *, nrows: int = 1, width: float = 4.2, height: float = 3.2) -> tuple[Figure, list]:
    """A styled figure with `nrows` × `ncols` axes (a flat list, row by row), each `width` × `height` inches."""
    with style():
        fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, list(axes.flat)


def renderer(fig: Figure) -> RendererBase:
    """A renderer of `fig` after one full draw, so every text has its final (laid-out) position."""
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    with style():
        canvas.draw()
    return canvas.get_renderer()


def _drawn_texts(fig: Figure) -> list[Text]:
    """Every non-empty visible text the figure draws: titles, labels, legends, annotations and the tick labels
    of ticks inside the view (an axis keeps labels of ticks it does not draw)."""
    tick_labels = {id(lab) for ax in fig.axes for axis in (ax.xaxis, ax.yaxis)
                   for tick in axis.majorTicks + axis.minorTicks for lab in (tick.label1, tick.label2)}  # fmt: skip
    drawn = [t for t in fig.findobj(Text) if id(t) not in tick_labels and t.get_visible() and t.get_text().strip()]
    for ax in fig.axes:
        if not ax.get_visible() or not ax.axison:
            continue
        for axis in (ax.xaxis, ax.yaxis):
            if axis.get_visible():
                drawn += [lab for tick in Axis._update_ticks(axis) for lab in (tick.label1, tick.label2)
                          if lab.get_visible() and lab.get_text().strip()]  # fmt: skip
    return drawn


def text_outside(fig: Figure, *, tolerance: float = 1.0) -> list[str]:
    """The texts whose rendered box (pixels) extends more than `tolerance` pixels beyond the figure's box:
    a title or label that the saved PNG would cut off."""
    r = renderer(fig)
    frame = fig.bbox
    out = []
    for t in _drawn_texts(fig):
        box = t.get_window_extent(r)
        if (box.x0 < frame.x0 - tolerance or box.y0 < frame.y0 - tolerance or box.x1 > frame.x1 + tolerance
                or box.y1 > frame.y1 + tolerance):  # fmt: skip
            out.append(t.get_text())
    return out


def wrap_titles(fig: Figure) -> None:
    """Break every axes title (and the suptitle) wider than its axes (the figure) into lines that fit."""
    r = renderer(fig)
    pairs = [(ax.title, ax.get_window_extent(r).width) for ax in fig.axes]
    if fig._suptitle is not None:
        pairs.append((fig._suptitle, fig.bbox.width))
    for title, room in pairs:
        text = title.get_text().replace("\n", " ")
        width = title.get_window_extent(r).width
        if text and width > room:
            chars = max(8, int(len(text) * room / width) - 1)
            title.set_text(textwrap.fill(text, chars, break_long_words=False))


def save_figure(fig: Figure, path: Path) -> Path:
    """Save `fig` as a PNG in the house style; axes that show an image lose the grid, which would cross its pixels.

    Titles wider than their axes are wrapped; if any text would still extend beyond the figure (an annotation
    at the edge, a long label), the PNG is enlarged to the box of everything drawn, so no text is clipped."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for ax in fig.axes:
        if ax.images:
            ax.grid(False)
    wrap_titles(fig)
    tight = {"bbox_inches": "tight", "pad_inches": 0.05} if text_outside(fig) else {}
    with style():
        fig.savefig(path, **tight)
    if fig.canvas.manager is not None:  # a pyplot figure: release it from pyplot's registry
        import matplotlib.pyplot as plt

        plt.close(fig)
    return path


def label_column(ax, points: list[tuple[str, float, float]], *, fontsize: float = 6.0) -> None:
    """Name each point (name, x, y) in a column right of `ax`, in the order of y, joined to its point by a thin
    leader line: the labels are evenly spaced, so none overlaps another however close the points lie."""
    order = sorted(points, key=lambda p: p[2])
    for i, (name, x, y) in enumerate(order):
        ax.annotate(
            name, (x, y), xytext=(1.04, (i + 0.5) / len(order)), textcoords="axes fraction", fontsize=fontsize,
            va="center", arrowprops={"arrowstyle": "-", "lw": 0.4, "color": "grey", "alpha": 0.6},
        )  # fmt: skip


def image_grid(images: torch.Tensor, *, nrow: int | None = None, pad: int = 1) -> torch.Tensor:
    """(N, C, H, W) in [0, 1] → one (H', W', C) grid image with `pad` pixels between tiles."""
    images = images.detach().float().clamp(0, 1).cpu()
    n, c, h, w = images.shape
    nrow = nrow or max(1, int(n**0.5))
    ncol = -(-n // nrow)
    grid = torch.ones(c, ncol * (h + pad) + pad, nrow * (w + pad) + pad)
    for i in range(n):
        r, q = divmod(i, nrow)
        grid[
            :, pad + r * (h + pad) : pad + r * (h + pad) + h, pad + q * (w + pad) : pad + q * (w + pad) + w
        ] = images[i]
    return grid.permute(1, 2, 0)


def scale_rows(chain: list[torch.Tensor]) -> torch.Tensor:
    """Images at several sides [(n, C, s, s), …] → one batch, each nearest-up-sampled to the largest side."""
    side = max(x.shape[-1] for x in chain)
    return torch.cat([torch.nn.functional.interpolate(x.float(), size=side, mode="nearest") for x in chain])


def save_image_grid(images: torch.Tensor, path: Path, *, nrow: int | None = None) -> Path:
    grid = image_grid(images, nrow=nrow)
    path.parent.mkdir(parents=True, exist_ok=True)
    matplotlib.image.imsave(
        path, grid.squeeze(-1).numpy() if grid.shape[-1] == 1 else grid.numpy(), cmap="gray", vmin=0, vmax=1
    )
    return path
