"""The claims check (`dlcanon reproduce --check`): each experiment's verdict against the one it declares.

An experiment is expected to hold unless its registration declares `disagrees="reason"`. The check passes
when every experiment ran and its `holds` equals the expectation; an error, a claim that stopped holding, or
a declared disagreement that now holds fails it, with the declaration to change named in the line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Check:
    """One experiment's line: what its registration expects, what the run gave, and what to change."""

    name: str
    expected: str  # "holds" or "disagrees"
    got: str  # "holds", "disagrees" or "error"
    seconds: float
    cached: bool
    fix: str  # empty when the check passes

    @property
    def ok(self) -> bool:
        return not self.fix

    def line(self, width: int = 28) -> str:
        seconds = f"{self.seconds:7.1f} s" + (" (cached)" if self.cached else "")
        head = f"{'ok' if self.ok else 'FAIL':4}  {self.name:{width}}  expected {self.expected:9}  got {self.got:9}"
        return f"{head}  {seconds}" + (f"\n      {self.fix}" if self.fix else "")


def check(record: dict[str, Any]) -> Check:
    """The check of one result record of `dlcanon.reproduce` (its `disagrees`: the declaration, its
    `source`: the file declaring the experiment)."""
    name, source = record["name"], record.get("source", "its experiment file")
    expected = "disagrees" if record.get("disagrees") else "holds"
    if record.get("status") != "ok":
        got = "error"
        fix = f"the experiment failed: {record.get('error', 'unknown error')}"
    else:
        got = "holds" if record.get("holds") else "disagrees"
        fix = ""
        if expected == "holds" and got != "holds":
            fix = (f"the claim no longer holds: fix the regression, or declare it in {source}: "
                   f'@experiment("{name}", ..., disagrees="<why the measurement disagrees with the notes>")')
        elif expected != "holds" and got == "holds":
            fix = f'the claim now holds: remove disagrees="..." from @experiment("{name}", ...) in {source}'
    seconds = float(record.get("seconds", 0.0))
    return Check(name, expected, got, seconds, bool(record.get("cached")), fix)  # fmt: skip


def summary(checks: list[Check]) -> str:
    """One line: how many hold and disagree as declared, how many flipped or failed, and the outcome."""
    flipped = [c.name for c in checks if not c.ok and c.got != "error"]
    errors = [c.name for c in checks if c.got == "error"]
    held = sum(c.ok and c.got == "holds" for c in checks)
    disagree = sum(c.ok and c.got == "disagrees" for c in checks)
    counts = (f"claims check: {len(checks)} experiments, {held} hold and {disagree} disagree as declared, "
              f"{len(flipped)} differ from their declaration, {len(errors)} failed to run")  # fmt: skip
    failed = flipped + errors
    return f"{counts}: " + (f"FAILED ({', '.join(failed)})" if failed else "passed")
