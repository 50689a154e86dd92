"""Slow: a newcomer's walk through the report in headless Chromium, driven by Playwright.

The report of a tiny fake run (one PNG figure) is opened; every link of the contents is clicked and must
bring its section into the window; every image must load (naturalWidth > 0); no console error, page error or
failed request may occur; no heading, caption or claim may be clipped (scrollWidth > clientWidth) on a
desktop or a phone-sized window. Needs the `browser` extra (`pip install -e .[browser]`, Playwright) and
Debian's `chromium` (`apt-get install -y chromium`); the test skips, saying which, when either is missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dlcanon.plots import figure, save_figure
from dlcanon.report import render_report

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CLIPPED_JS = """
() => [...document.querySelectorAll("h1, h2, h3, caption, figcaption, .claim, .verdict, .intro, .summary li")]
    .filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1)
    .map(e => e.tagName + ": " + e.textContent.trim().slice(0, 60))
"""
IMAGES_JS = "() => [...document.images].map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0])"


def record(name: str, tag: str, **fields) -> dict:
    return {
        "name": name,
        "tags": [tag],
        "claim": f"A claim of {name} long enough to wrap on a phone-sized screen without being clipped at all.",
        "command": f"dlcanon reproduce {name} --quick",
        "status": "ok",
        "holds": True,
        "verdict": f"{name} measured what it claims.",
        "seconds": 1.5,
        **fields,
    }


@pytest.fixture
def report_dir(tmp_path: Path) -> Path:
    """A rendered report of four fake experiments under three notions; one has a table and a PNG figure."""
    out = tmp_path / "report"
    fig, (ax,) = figure()
    ax.plot([0, 1, 2, 3], [0, 1, 4, 9], "o-")
    ax.set(xlabel="x", ylabel="x²", title="A toy figure")
    save_figure(fig, out / "conv_output_size" / "squares.png")
    table = {"title": "A toy table of squares", "columns": ["x", "x²"], "rows": [[x, x * x] for x in range(4)]}
    records = [
        record(
            "conv_output_size",
            "F6",
            tables=[table],
            figures={"squares": {"path": "conv_output_size/squares.png", "caption": "Squares of four numbers."}},
        ),
        record("toy_disagrees", "G1", holds=False, disagrees="The notes overstate it; the measurement says so."),
        record("toy_fails", "G1", holds=False),
        {**record("toy_error", "C5"), "status": "error", "error": "ValueError: a deliberate failure"},
    ]
    report = {"mode": "quick", "device": "cpu", "torch": "2.13.0", "created": "today", "experiments": records}
    render_report(out, report)
    return out


@pytest.fixture
def browser():
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright is missing: pip install -e .[browser] (the `browser` extra)"
    )
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True)
        yield chromium
        chromium.close()


def open_page(browser, url: str, width: int, height: int):
    """A page at `url` that records console errors, page errors and failed requests in `page.problems`."""
    page = browser.new_page(viewport={"width": width, "height": height})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed to load {r.url}"))
    page.goto(url, wait_until="load")
    return page, problems


@pytest.mark.parametrize("width, height", [(1280, 900), (375, 740)], ids=["desktop", "phone"])
def test_contents_links_images_and_text_in_chromium(report_dir, browser, width, height):
    page, problems = open_page(browser, (report_dir / "index.html").as_uri(), width, height)
    assert page.evaluate("document.documentElement.dataset.check") == "ok"
    first_screen = page.evaluate("document.querySelector('header.top').innerText")
    assert "dlcanon is an executable deep-learning curriculum" in first_screen and "claims hold" in first_screen

    links = page.locator("nav table.contents a[href^='#']")
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert len(hrefs) >= 4 + 3  # one experiment link per row, one notion link per row with a topic
    for i, href in enumerate(hrefs):
        links.nth(i).click()
        assert page.evaluate("location.hash") == href
        top = page.evaluate(f"document.getElementById({href[1:]!r}).getBoundingClientRect().top")
        assert -2 < top < height - 40, f"{href} did not bring its section into view (top at {top:.0f} px)"
        page.go_back()

    images = page.evaluate(IMAGES_JS)
    assert images == [["conv_output_size/squares.png", True]]
    assert page.evaluate(CLIPPED_JS) == []
    assert page.locator("a.source").count() == 1  # the one registered experiment links its code
    assert problems == []

    coverage, problems = open_page(browser, (report_dir / "coverage.html").as_uri(), width, height)
    assert coverage.evaluate("document.documentElement.dataset.check") == "ok"
    assert coverage.evaluate(CLIPPED_JS) == [] and problems == []
