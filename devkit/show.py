"""Small display helpers for the notebooks: readable tables instead of raw dumps.

A table must fit a printed page: one wider than `PAGE_WIDTH` characters fails the cell that
shows it, so the notebook's author shortens a column rather than the reader scrolling.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

PAGE_WIDTH = 110


class Table:
    """Renders as a Markdown table in Jupyter and as aligned text elsewhere (and in nbval)."""

    def __init__(self, rows: Iterable[Sequence[Any]], columns: Sequence[str]) -> None:
        self.columns = list(columns)
        self.rows = [["" if cell is None else str(cell) for cell in row] for row in rows]
        # Checked here, in the notebook's own code: a display hook's error would not fail the cell.
        widest = max(len(line) for line in self._text().splitlines())
        assert widest <= PAGE_WIDTH, f"this table is {widest} characters wide; a page holds {PAGE_WIDTH}"

    def _repr_markdown_(self) -> str:
        def line(cells: Sequence[str]) -> str:
            return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

        return "\n".join([line(self.columns), line(["---"] * len(self.columns)), *map(line, self.rows)])

    def __repr__(self) -> str:
        return self._text()

    def _text(self) -> str:
        widths = [
            max(len(c), *(len(r[i]) for r in self.rows)) if self.rows else len(c) for i, c in enumerate(self.columns)
        ]

        def line(cells: Sequence[str]) -> str:
            return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()

        return "\n".join([line(self.columns), line(["-" * w for w in widths]), *map(line, self.rows)])


def table(rows: Iterable[Sequence[Any]], *columns: str) -> Table:
    return Table(rows, columns)


def records(dicts: Iterable[dict[str, Any]], *columns: str) -> Table:
    """A table of the given keys of each dict."""
    return Table(([d.get(c) for c in columns] for d in dicts), columns)
