"""The documentation stays true: every worked example under docs/extending runs, the site builds with
``mkdocs build --strict`` (every page in the navigation, every link and API reference resolved), the README stays a
front page whose links resolve, and ruff finds nothing to lint or reformat."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "docs" / "extending").glob("*.md"))


def _python_blocks(page: Path) -> str:
    return "\n\n".join(re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S))


@pytest.mark.parametrize("page", [p for p in EXAMPLES if _python_blocks(p)], ids=lambda p: p.stem)
def test_each_worked_extension_example_runs(page, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", _python_blocks(page)], cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for expected in re.findall(r"#\s+(.+)$", _python_blocks(page), flags=re.M):
        if expected.strip().startswith(("True", "[", "0.", "1.", "You grew")):  # the printed values the page quotes
            assert expected.strip() in proc.stdout, f"{page.name} says it prints {expected!r}: {proc.stdout}"


def test_a_taken_name_is_refused_unless_replacing_is_asked_for():
    from culturalign.errors import CulturalignError
    from culturalign.extend import register_objective
    from culturalign.optimization.objectives import ContrastiveObjective

    with pytest.raises(CulturalignError, match="an objective named 'distance' is already registered"):
        register_objective("distance", ContrastiveObjective)


def test_the_site_builds_strictly(tmp_path):
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent))
    if mkdocs is None:
        pytest.skip("mkdocs is not installed (the [docs] extra)")
    proc = subprocess.run(
        [mkdocs, "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert (tmp_path / "site" / "extending" / "provider" / "index.html").is_file()


def test_the_readme_is_a_front_page_whose_links_resolve():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), f"README links to {target}, which does not exist"


@pytest.mark.parametrize("check", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_ruff_finds_nothing(check):
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff is None:
        pytest.skip("ruff is not installed (the [test] extra)")
    proc = subprocess.run([ruff, *check, "."], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
