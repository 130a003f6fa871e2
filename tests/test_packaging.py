"""The wheel carries the survey, reference data, model registry and optimizer presets (not only a checkout)."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_all_data_files(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("culturalign-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "culturalign/surveys/ivs_iw10.yaml",
        "culturalign/surveys/SOURCES.md",
        "culturalign/surveys/reference/countries.csv",
        "culturalign/surveys/reference/projection_ivs_2005_2022.yaml",
        "culturalign/surveys/reference/wvs7_distributions.csv",
        "culturalign/surveys/reference/wvs_official_2022_map.csv",
        "culturalign/models/models.yaml",
        "culturalign/optimizers/mipro-light.yaml",
        "culturalign/recsys/freebase.yaml",
    }
    assert expected <= names, sorted(expected - names)
    assert not any(n.endswith((".pkl", ".pickle")) for n in names)
