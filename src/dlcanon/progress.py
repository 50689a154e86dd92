"""Progress bars on stderr (rich), so that `--json` keeps stdout clean."""

from __future__ import annotations

import contextlib
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

stderr = Console(stderr=True)


class Bar(contextlib.AbstractContextManager):
    """A task bar with a short status line of the latest numbers; a no-op when disabled."""

    def __init__(self, total: int, description: str, *, enabled: bool = True, completed: int = 0) -> None:
        self.enabled = enabled
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[status]}"),
            console=stderr,
            transient=False,
            disable=not enabled,
        )
        self.task = self.progress.add_task(description, total=total, completed=completed, status="")

    def __enter__(self) -> Bar:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def update(self, completed: int, values: dict[str, Any] | None = None) -> None:
        status = ""
        if values:
            shown = {
                k: v for k, v in values.items() if k.endswith(("loss", "accuracy")) and isinstance(v, float)
            }
            status = " ".join(f"{k}={v:.4g}" for k, v in list(shown.items())[:4])
        self.progress.update(self.task, completed=completed, status=status)

    def advance(self, n: int = 1, status: str = "") -> None:
        self.progress.update(self.task, advance=n, status=status)


def progress_bar(total: int, description: str, *, enabled: bool = True, completed: int = 0) -> Bar:
    return Bar(total, description, enabled=enabled, completed=completed)
