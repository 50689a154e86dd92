"""Readable figures: no text outside the figure (titles wrapped, the PNG enlarged when needed), labels that do
not overlap, and the figures of the fair-baseline experiments checked by the renderer."""

from __future__ import annotations

import matplotlib.image
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

import dlcanon.experiments  # noqa: F401  (registrations)
from dlcanon.experiments.base import run_experiment
from dlcanon.experiments.context import Context
from dlcanon.plots import figure, label_column, renderer, save_figure, text_outside, wrap_titles

LONG = "over training (rows: steps 0, 77, 155, 310, 620), one fixed noise batch in every row"


def test_a_title_wider_than_the_figure_is_found_and_wrapped_inside(tmp_path):
    fig, (ax,) = figure(1, width=2.5)
    ax.plot([0, 1], [0, 1])
    ax.set_title(LONG)
    assert text_outside(fig) == [LONG]
    save_figure(fig, tmp_path / "f.png")
    assert "\n" in ax.get_title() and text_outside(fig) == []


def test_an_annotation_past_the_edge_enlarges_the_saved_png(tmp_path):
    fig = Figure(figsize=(3, 2), dpi=100)  # no layout engine: nothing moves the axes to make room
    ax = fig.add_axes((0.2, 0.2, 0.7, 0.7))
    ax.annotate("a label that runs far past the right edge", (0.9, 0.5), xycoords="axes fraction")
    assert "a label that runs far past the right edge" in text_outside(fig)
    width = matplotlib.image.imread(save_figure(fig, tmp_path / "f.png")).shape[1]
    assert width > 3 * 110  # wider than the figure at the house dpi: the label was kept, not cut


def test_a_plain_figure_has_no_text_outside():
    fig, (ax,) = figure(1)
    ax.plot([1, 10], [1, 2])
    ax.set(xscale="log", xlabel="x (units)", ylabel="y (units)", title="short")
    assert text_outside(fig) == []


def test_label_column_never_overlaps_labels_of_close_points():
    fig, (ax,) = figure(1, height=4.5)
    points = [(f"model_{i}", 1e6 * (1 + i % 3), 0.1 + 0.001 * i) for i in range(30)]  # piled up
    ax.scatter([p[1] for p in points], [p[2] for p in points])
    label_column(ax, points)
    r = renderer(fig)
    boxes = [Text.get_window_extent(t, r) for t in ax.texts]  # the labels alone, not their leader lines
    assert len(boxes) == 30 and all(b.width > 10 for b in boxes)  # drawn (an undrawn annotation is a unit box)
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    assert text_outside(fig) == []


TINY = {
    "siren_image_fit": {"size": 8, "hidden": 8, "layers": 1, "steps": 2},
    "ensembles": {"model": "lenet5", "k": 2, "replicates": 2, "n_train": 32, "epochs": 1},
    "architecture_table": {"models": ["alexnet_small", "vgg11_small"], "n_train": 16, "n_test": 20, "epochs": 1},
    "gan_mode_collapse": {"seeds": [0, 1], "steps": {"ring8": 4}},
}


@pytest.mark.parametrize("name", sorted(TINY))
def test_experiment_figures_keep_every_text_inside(name):
    result = run_experiment(name, Context(quick=True, settings=TINY[name]))
    for stem, fig in result.figures.items():
        wrap_titles(fig)
        assert text_outside(fig) == [], stem
