"""The HTML report of `dlcanon reproduce`: result pages, curriculum coverage and the result cache.

`render_report(out, report)` writes `out/index.html` (one section per notion, in the notes' order) and
`out/coverage.html` (every curriculum ID with what implements and verifies it). Nothing below `nn`,
`losses`, `data`, `models`, `objectives` or `train` may import this package.
"""

from dlcanon.report.cache import cache_key, cached_record, code_version
from dlcanon.report.coverage import Coverage, Topic, coverage, load_curriculum
from dlcanon.report.html import render_report

__all__ = [
    "Coverage",
    "Topic",
    "cache_key",
    "cached_record",
    "code_version",
    "coverage",
    "load_curriculum",
    "render_report",
]
