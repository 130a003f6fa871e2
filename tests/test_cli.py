"""The CLI for the map (fast): JSON shapes, images, and clear errors without tracebacks."""

import json
import subprocess
import sys

import pytest

from culturalign.map import cultmap

ANSWERS = {
    "F063": 3,
    "Y003": 1,
    "F120": 7,
    "G006": 2,
    "E018": 3,
    "Y002": 2.5,
    "A008": 1.5,
    "F118": 8,
    "E025": 1,
    "A165": 1,
}


def run(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "culturalign.cli", *args], capture_output=True, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_countries_json_lists_all_reference_countries():
    data = json.loads(run("countries", "--json").stdout)
    assert len(data) == 107
    assert {"country", "iso3", "region", "x", "y"} <= set(data[0])
    sweden = next(c for c in data if c["country"] == "Sweden")
    assert sweden["iso3"] == "SWE" and sweden["region"] == "Protestant Europe"


def test_project_one_object_gives_one_object(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps(ANSWERS))
    out = json.loads(run("project", str(path), "--json").stdout)
    x, y = cultmap.project(ANSWERS).iloc[0]
    assert out["x"] == pytest.approx(x) and out["y"] == pytest.approx(y)
    assert len(out["nearest"]) == 5 and set(out["nearest"][0]) == {"country", "distance"}
    assert out["nearest"][0]["distance"] <= out["nearest"][1]["distance"]
    text = run("project", str(path)).stdout
    assert out["nearest"][0]["country"] in text


def test_project_a_list_gives_a_list(tmp_path):
    path = tmp_path / "many.json"
    path.write_text(json.dumps([{"name": "liberal", **ANSWERS}, {**ANSWERS, "F063": 10, "F118": 1}]))
    out = json.loads(run("project", str(path), "--json").stdout)
    assert isinstance(out, list) and len(out) == 2
    assert out[1]["y"] < out[0]["y"]  # more religious, less tolerant: more traditional


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not valid JSON"),
        (json.dumps({**ANSWERS, "XYZ": 1}), "unknown item code(s) XYZ"),
        (json.dumps({**ANSWERS, "F063": 42}), "F063 = 42 is outside its range"),
        (json.dumps({**ANSWERS, "A008": "happy"}), "value of A008 must be a number"),
        (json.dumps({"F063": 5}), "answers lack item(s)"),
        (json.dumps([1, 2]), "expected an object"),
    ],
)
def test_project_bad_input_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    proc = run("project", str(path), check=False)
    assert proc.returncode != 0
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_missing_file_and_unknown_option_fail_cleanly(tmp_path):
    proc = run("project", str(tmp_path / "none.json"), check=False)
    assert proc.returncode != 0 and "not found" in proc.stderr and "Traceback" not in proc.stderr
    proc = run("countries", "--colour", check=False)
    assert proc.returncode != 0 and "No such option" in proc.stderr and "Traceback" not in proc.stderr
    proc = run("countries", "--region", "Atlantis", check=False)
    assert proc.returncode != 0 and "unknown region" in proc.stderr


def test_map_writes_png_svg_and_html_with_extra_points(tmp_path):
    points = tmp_path / "points.json"
    points.write_text(json.dumps([{"name": "my model", "x": 0.2, "y": -0.3}, {"name": "projected", **ANSWERS}]))
    for suffix in ("png", "svg", "html"):
        out = tmp_path / f"map.{suffix}"
        run("map", "--out", str(out), "--points", str(points))
        assert out.stat().st_size > 10_000
    assert "my model" in (tmp_path / "map.html").read_text()
    proc = run("map", "--out", str(tmp_path / "map.gif"), check=False)
    assert proc.returncode != 0 and ".png" in proc.stderr and "Traceback" not in proc.stderr


def test_the_python_api_projects_what_the_command_projects_and_refuses_what_it_refuses():
    import culturalign
    from culturalign.errors import CulturalignError

    assert culturalign.project(ANSWERS).iloc[0].tolist() == pytest.approx(cultmap.project(ANSWERS).iloc[0].tolist())
    for bad, message in (
        ({**ANSWERS, "F063": 99}, "F063 = 99 is outside its range"),
        ({**ANSWERS, "XYZ": 1}, "unknown item code"),
        ({**ANSWERS, "F063": "high"}, "must be a number"),
    ):
        with pytest.raises(CulturalignError, match=message):
            culturalign.project(bad)


def test_an_extension_command_never_replaces_a_built_in_one():
    code = (
        "import click\n"
        "from culturalign.extend import register_command\n"
        "register_command(click.Command('audit', callback=lambda: print('impostor')))\n"
        "from culturalign import cli\n"
        "print(cli.cli.commands['audit'].callback.__module__)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "culturalign.cli"
    assert "ignoring an extension's command 'audit'" in proc.stderr
