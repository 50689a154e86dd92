"""The house style of figures."""


def test_saved_images_carry_no_grid_lines(tmp_path):
    """The house style grids plots; an image (a sample grid, a density heat map) must not be crossed by it."""
    import torch

    from dlcanon.plots import figure, save_figure

    fig, (plot, image) = figure(2)
    plot.plot([0, 1], [0, 1])
    image.imshow(torch.rand(8, 8).numpy())
    save_figure(fig, tmp_path / "f.png")
    visible = lambda ax: any(line.get_visible() for line in ax.xaxis.get_gridlines())  # noqa: E731
    assert visible(plot) and not visible(image)
