"""Lines of parse/check code in the modules issue #25 names (run from the repository root): the functions and
classes below, where they exist, every module-level table of validation rules, plus culturalign/validation.py
whole. Blank lines and comments count too."""

import ast
from pathlib import Path

NAMES = {
    "culturalign/instrument/items.py": {"Where", "_template", "parse_options", "parse_item", "parse"},
    "culturalign/optimization/saved.py": {
        "_Schema",
        "_check_split",
        "check_manifest",
        "load_manifest",
        "check_program_state",
        "_check_demo",
        "_MANIFEST",
        "_STATE",
        "_PREDICTOR",
        "_DEMO",
    },
    "culturalign/runs/experiment.py": {
        "_fail",
        "_suggest",
        "_int",
        "_condition",
        "_seeds",
        "_compile_condition",
        "_countries",
        "parse_experiment",
        "output_folder",
        "_RULES",
        "_COMPILE_RULES",
        "_SEEDS",
    },
    "culturalign/models/registry.py": {
        "_check_values",
        "_check_replicas",
        "check_source",
        "_parse",
        "_load_file",
        "_RULES",
        "_SOURCE",
        "_URL",
    },
    "culturalign/optimization/presets.py": {
        "_accepted",
        "_annotation_kinds",
        "_kinds",
        "_check_numbers",
        "_fits",
        "check_settings",
        "load_preset",
        "_RULES",
        "_BUDGET",
    },
    "culturalign/cli.py": {"map_cmd"},
    "culturalign/instrument/answers.py": {"map_points"},
}


RULES = {"Rule", "Whole", "Number", "Text", "OneOf", "Bool", "Null", "AnyOf", "ListOf", "Keys", "Fields"}


def _makes_rule(value) -> bool:
    """A module-level table of culturalign.validation rules (it is check code too)."""
    return any(isinstance(n, ast.Call) and getattr(n.func, "id", None) in RULES for n in ast.walk(value))


def counted(path: str, names: set) -> int:
    """Lines of the top-level (or class-level ``parse``) definitions and assignments named ``names``."""
    total = 0
    for node in ast.walk(ast.parse(Path(path).read_text())):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in names:
            total += node.end_lineno - node.lineno + 1
        elif (
            isinstance(node, ast.Assign)
            and node.col_offset == 0
            and (any(getattr(t, "id", None) in names for t in node.targets) or _makes_rule(node.value))
        ):
            total += node.end_lineno - node.lineno + 1
    return total


if __name__ == "__main__":
    grand = 0
    for path, names in NAMES.items():
        if Path(path).exists():
            n = counted(path, names)
            grand += n
            print(f"{n:5d}  {path}")
    extra = Path("culturalign/validation.py")
    if extra.exists():
        n = len(extra.read_text().splitlines())
        grand += n
        print(f"{n:5d}  {extra}")
    print(f"{grand:5d}  total")
