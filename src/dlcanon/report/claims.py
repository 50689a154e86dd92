"""Where each claim stands in a run: holds, disagrees with the notes (declared), not reproduced, or error.

An experiment whose measurement is known to disagree with the notes declares so, with its reason, in its
registration (`disagrees=`); its result record carries the reason as `disagrees`. A claim that fails without
such a declaration is "not reproduced".
"""

from __future__ import annotations

from collections import Counter
from typing import Any

STATUSES = ("holds", "disagrees", "fails", "error")
STATUS_LABELS = {
    "holds": "claim holds",
    "disagrees": "disagrees with the notes (declared)",
    "fails": "claim not reproduced",
    "error": "error",
}


def status_of(record: dict[str, Any]) -> str:
    """One of `STATUSES` for a result record of `dlcanon.reproduce.run_one`."""
    if record.get("status") != "ok":
        return "error"
    if record.get("holds"):
        return "holds"
    return "disagrees" if record.get("disagrees") else "fails"


def tally(records: list[dict[str, Any]]) -> dict[str, int]:
    """How many records have each status (every status present, zeros included)."""
    counts = Counter(status_of(record) for record in records)
    return {status: counts[status] for status in STATUSES}
