"""`make notebooks`: execute the notebooks and save them only if every check in every one held.

`jupyter nbconvert --execute --inplace a.ipynb b.ipynb` saves each notebook as soon as it has
run: when a cell of `b` fails, `a` is already rewritten and the run stops there, and with
`--allow-errors` (or a cell tagged `raises-exception`) the failure itself is saved as output.
Here every notebook is executed in memory first; if any cell raises, nothing at all is
written and the command fails, naming the notebook and the cell. Cells that would hide a
failure from nbval (tagged `raises-exception`, `nbval-skip`, `nbval-ignore-output`) are refused.

    python -m devkit.run_notebooks notebooks/*.ipynb
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

FORBIDDEN_TAGS = {"raises-exception", "nbval-skip", "nbval-ignore-output", "nbval-raises-exception", "skip-execution"}
CELL_TIMEOUT = 600  # seconds


def hidden_failures(notebook: Any) -> list[str]:
    """Cells whose failure or output nbval would not check."""
    found = []
    for index, cell in enumerate(notebook.cells):
        tags = set(cell.get("metadata", {}).get("tags", [])) & FORBIDDEN_TAGS
        if tags:
            found.append(f"cell {index} is tagged {', '.join(sorted(tags))}")
    return found


def execute(path: Path) -> Any:
    """The notebook with fresh outputs; raises on the first cell that fails."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    problems = hidden_failures(notebook)
    if problems:
        raise ValueError(f"{path}: {'; '.join(problems)}")
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        record_timing=False,
        allow_errors=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    errors = [o for cell in notebook.cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{path}: an error was recorded as output"
    return notebook


def main(paths: list[str]) -> int:
    import nbformat
    from nbclient.exceptions import CellExecutionError

    executed = []
    for name in paths:
        path = Path(name)
        started = time.monotonic()
        try:
            executed.append((path, execute(path)))
        except (CellExecutionError, ValueError, AssertionError) as failure:
            print(f"{path}: FAILED, no notebook was saved\n{failure}", file=sys.stderr)
            return 1
        print(f"{path}: ran in {time.monotonic() - started:.1f} s", file=sys.stderr)
    for path, notebook in executed:
        # Written whole or not at all: a file beside it, then one rename.
        with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".ipynb", delete=False) as out:
            nbformat.write(notebook, out)
        os.chmod(out.name, 0o644)
        os.replace(out.name, path)
    print(f"saved {len(executed)} notebooks", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
