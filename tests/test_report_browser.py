"""Slow: the report in headless Chromium. Every image loads, no script or load error, screenshots saved.

The page records its own check on <html> (data-check, data-images, data-images-broken, data-errors; see
report/templates/check.js); `--dump-dom` prints the DOM after the load event, so no DevTools client is needed.
Chromium is Debian's package `chromium`: installed here with apt-get when missing and running as root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from dlcanon.experiments.base import Result, Table, experiment
from dlcanon.plots import figure
from dlcanon.registry import EXPERIMENTS
from dlcanon.reproduce import run_experiments

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=10000",  # let every image load and the load handler run before the dump
]


def chromium() -> Path:
    """/usr/bin/chromium, installed with `apt-get install -y chromium` if missing and we are root."""
    if CHROMIUM.exists():
        return CHROMIUM
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip(f"{CHROMIUM} is missing and only root with apt-get may install it (apt-get install -y chromium)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    proc = subprocess.run(
        ["apt-get", "install", "-y", "chromium"], env=env, capture_output=True, text=True, timeout=1200, check=False
    )
    if proc.returncode != 0 or not CHROMIUM.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        pytest.skip(f"`apt-get install -y chromium` failed ({proc.returncode}): {tail[0]}")
    return CHROMIUM


def browse(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    command = [str(chromium()), *FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)


class RootAttributes(HTMLParser):
    """The attributes of the first <html> tag."""

    def __init__(self) -> None:
        super().__init__()
        self.attrs: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "html" and self.attrs is None:
            self.attrs = {k: v or "" for k, v in attrs}


def page_check(page: Path, profile: Path) -> tuple[dict[str, str], list[str]]:
    """The page's self-check attributes after load, and the console messages Chromium logged."""
    proc = browse(page, profile, "--enable-logging=stderr", "--v=0", "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    parser = RootAttributes()
    parser.feed(proc.stdout)
    assert parser.attrs is not None, f"no <html> in the dumped DOM of {page}"
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    return parser.attrs, console


@pytest.fixture
def report_dir(tmp_path):
    """The report of a real experiment, a toy with a table and a figure, and a toy that fails."""

    @experiment("toy_browser_ok", tags=("F6",), claim="A toy claim with a figure.")
    def toy_ok(quick: bool) -> Result:
        fig, (ax,) = figure()
        ax.plot([0, 1, 2, 3], [0, 1, 4, 9], "o-")
        ax.set(xlabel="x", ylabel="x²", title="A toy figure")
        table = Table("Toy table", ["x", "x²", "√x"], [[x, x * x, x**0.5] for x in range(4)])
        return Result("Measured x² for four x.", True, tables=[table], figures={"squares": fig})

    @experiment("toy_browser_fail", tags=("G1",), claim="A toy claim that fails to run.")
    def toy_fail(quick: bool) -> Result:
        raise ValueError("a deliberate failure, shown in its section")

    out = tmp_path / "report"
    try:
        report = run_experiments(["conv_output_size", "toy_browser_fail", "toy_browser_ok"], quick=True, out=out)
    finally:
        for name in ("toy_browser_ok", "toy_browser_fail"):
            EXPERIMENTS._entries.pop(name)
    assert report["passed"] == 2 and report["failed"] == 1
    return out


def test_report_loads_in_headless_chromium(report_dir, tmp_path):
    profile = tmp_path / "profile"
    attrs, console = page_check(report_dir / "index.html", profile)
    assert attrs.get("data-check") == "ok", attrs
    assert int(attrs["data-images"]) == 2 and attrs["data-images-broken"] == "0", attrs
    assert attrs["data-errors"] == "0" and not console, (attrs.get("data-error-log"), console)

    attrs, console = page_check(report_dir / "coverage.html", profile)
    assert attrs.get("data-check") == "ok" and attrs["data-errors"] == "0" and not console, (attrs, console)

    for page, height in (("index.html", 2400), ("coverage.html", 1600)):
        shot = tmp_path / f"{Path(page).stem}.png"
        proc = browse(report_dir / page, profile, f"--window-size=1280,{height}", f"--screenshot={shot}")
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
        print(f"screenshot: {shot}")
