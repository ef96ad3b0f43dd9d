"""Every notebook in notebooks/ runs headless, top to bottom, without an error.

The notebooks are committed without outputs; nbclient executes each in a fresh
python3 kernel (ipykernel's, i.e. this interpreter: the kernel inherits the
environment, so PYTHONPATH reaches the twinsim being tested) with the
notebooks/ folder as its working directory. Any cell that raises fails the
test with the cell's traceback."""

import os
import pathlib

import pytest

# Not skipped when missing: pyproject.toml's test extra (installed by
# scripts/run-tests) provides them, and a silently skipped notebook would rot.
import ipykernel  # noqa: F401  (the python3 kernel)
import nbclient
import nbformat

ROOT = pathlib.Path(os.environ.get("TWINSIM_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks in {ROOT / 'notebooks'}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, \
                f"{path.name}: cell {index} has outputs (clear them before committing)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, monkeypatch):
    notebook = nbformat.read(path, as_version=4)
    # The kernel is a child process with this environment (PYTHONPATH included);
    # matplotlib draws without a display.
    monkeypatch.setenv("MPLBACKEND", "Agg")
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    errors = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
