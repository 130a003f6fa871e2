"""notebooks/explore.ipynb runs from top to bottom with the real embedded default model."""

from pathlib import Path

import pytest

pytestmark = [pytest.mark.model, pytest.mark.timeout(3000)]

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "explore.ipynb"


def test_explore_notebook_executes(cache_root, tmp_path):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    # the kernel inherits CULTURALIGN_CACHE_DIR from cache_root: the test session's own cache
    NotebookClient(nb, timeout=2400, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = {i: cell.outputs for i, cell in enumerate(nb.cells) if cell.cell_type == "code"}
    assert all(o.get("output_type") != "error" for outs in outputs.values() for o in outs)
    texts = [o.get("data", {}).get("text/plain", "") for outs in outputs.values() for o in outs]
    assert any("report.html" in t for t in texts)  # the last cell lists the comparison's results
    images = [o for outs in outputs.values() for o in outs if "image/png" in o.get("data", {})]
    assert len(images) >= 2  # the map and the distance figure
