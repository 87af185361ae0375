"""The notebooks are stored without outputs and run top to bottom on tiny generated data."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
QUICKSTART = NOTEBOOKS / "01_quickstart.ipynb"
REVIEW = NOTEBOOKS / "02_backtest_review.ipynb"


def _run(path: Path, parameters: str, cwd: Path) -> nbformat.NotebookNode:
    book = nbformat.read(path, as_version=4)
    cell = next(c for c in book.cells if "parameters" in c.metadata.get("tags", []))
    cell.source = parameters
    NotebookClient(book, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return book


def _text(book: nbformat.NotebookNode) -> str:
    parts = []
    for cell in book.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            parts.append(str(out.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


@pytest.mark.parametrize("path", [QUICKSTART, REVIEW], ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path: Path):
    book = nbformat.read(path, as_version=4)
    code = [c for c in book.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


@pytest.mark.slow
def test_notebooks_run_on_small_generated_data(tmp_path: Path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    quick = _run(QUICKSTART, f'DATA = r"{tmp_path / "data"}"\nNODES, SKUS, PERIODS = 3, 4, 60\n'
                 'MODELS = ("snaive", "croston", "ma", "auto")\n'
                 f'TRACKING_URI = "{uri}"', tmp_path)
    text = _text(quick)
    assert "promoted: no champion yet" in text and "q0.95" in text
    review = _run(REVIEW, f'TRACKING_URI = "{uri}"\nVERSION = None\nMODEL = None\nWORST = 3',
                  tmp_path)
    text = _text(review)
    assert "channelcast-demand v" in text and "wrmsse" in text
