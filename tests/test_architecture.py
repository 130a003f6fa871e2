"""The package's imports flow one way: each stage imports only its own and lower stages (the order the README's
Architecture section shows), and the core never imports an extension (recsys registers itself through the
culturalign.plugins entry point)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "culturalign"
EXTENSIONS = ("recsys",)
# Lowest first. A top-level module or folder missing here fails the test: place it before it lands.
STAGES = (
    ("errors", "fileio", "validation", "registry", "plugins", "progress"),
    ("map",),
    ("instrument",),
    ("distribution",),
    ("models",),
    ("elicitation",),
    ("programs",),
    ("optimization",),
    ("report",),
    ("runs",),
    ("cli", "extend", "__init__"),
)


def _imports(path: Path) -> set[str]:
    """Absolute names of the culturalign modules a file imports (relative imports resolved)."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("culturalign")}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name.startswith("culturalign"):
                out.add(name)
                out |= {f"{name}.{a.name}" for a in node.names}
    return out


def test_the_core_never_imports_an_extension():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.relative_to(PACKAGE).parts[0] in EXTENSIONS:
            continue
        for name in _imports(path):
            if any(name == f"culturalign.{e}" or name.startswith(f"culturalign.{e}.") for e in EXTENSIONS):
                offenders.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert offenders == []


def _stage(module: str) -> int | None:
    """The stage of ``culturalign.<part>...``; None for an extension."""
    part = (module.split(".") + ["__init__"])[1]
    if part in EXTENSIONS:
        return None
    for rank, members in enumerate(STAGES):
        if part in members:
            return rank
    raise AssertionError(f"culturalign.{part} is in no stage: add it to STAGES in {Path(__file__).name}")


def test_no_stage_imports_a_higher_one():
    upward = []
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        own = _stage(module)
        if own is None:
            continue
        for name in _imports(path):
            if name != "culturalign" and (theirs := _stage(name)) is not None and theirs > own:
                upward.append(
                    f"{path.relative_to(PACKAGE)} (stage {'/'.join(STAGES[own])}) imports {name} "
                    f"(stage {'/'.join(STAGES[theirs])})"
                )
    assert upward == []


def test_the_extension_is_found_through_its_entry_point():
    from culturalign.plugins import task_kind
    from culturalign.programs.programs import registered

    assert {"recexplain", "recexplain_plain", "recexplain_handwritten"} <= set(registered())
    assert task_kind("recexplain") is not None


def test_every_subpackage_is_listed_for_the_wheel():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    setuptools = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    mapped = {name: PACKAGE.parent / folder for name, folder in setuptools.get("package-dir", {}).items()}
    found = {".".join(p.parent.relative_to(PACKAGE.parent).parts) for p in PACKAGE.rglob("__init__.py")}
    for name, folder in mapped.items():
        found |= {".".join((name, *p.parent.relative_to(folder).parts)) for p in folder.rglob("__init__.py")}
    assert found - listed == set(), "subpackages missing from pyproject.toml [tool.setuptools] packages"


# Every name users can add to lives in one Registry; the modules that define one (and the public culturalign.extend)
# are the only places that register anything.
REGISTRIES = {
    "culturalign.instrument.items": ["ITEM_TYPES"],
    "culturalign.programs": ["PROGRAMS"],
    "culturalign.models.providers": ["PROVIDERS"],
    "culturalign.optimization": ["OBJECTIVES"],
    "culturalign.optimization.presets": ["OPTIMIZERS"],
    "culturalign.plugins": ["TASKS", "COMMANDS"],
    "culturalign.report.figures": ["FIGURES"],
}
# modules that define a registry's own register_* wrapper next to it
REGISTERING = {
    "instrument/items.py",
    "programs/__init__.py",
    "programs/programs.py",
    "models/providers.py",
    "optimization/__init__.py",
    "optimization/presets.py",
    "plugins.py",
    "report/figures.py",
    "extend.py",
    "registry.py",
}


def test_every_registry_is_a_registry_and_no_other_module_defines_one():
    import importlib

    from culturalign.registry import Registry

    for module, names in REGISTRIES.items():
        for name in names:
            assert isinstance(getattr(importlib.import_module(module), name), Registry), f"{module}.{name}"
    defined = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Registry":
                defined.add(str(path.relative_to(PACKAGE)))
    assert defined <= REGISTERING


def test_nothing_registers_outside_culturalign_extend_and_the_registries_own_modules():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        where = str(path.relative_to(PACKAGE))
        if where in REGISTERING:
            continue
        tree = ast.parse(path.read_text())
        from_extend = {
            a.asname or a.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("extend")
            for a in node.names
        }
        for node in ast.walk(tree):
            targets = [node.func] if isinstance(node, ast.Call) else []
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                targets += node.decorator_list
            for target in targets:
                name = getattr(target, "id", None) or getattr(target, "attr", None) or ""
                if (name == "register" or name.startswith("register_")) and name not in from_extend:
                    offenders.append(f"{where}:{target.lineno} calls {name}")
    assert offenders == []


def test_every_command_line_choice_comes_from_the_code_that_knows_the_names():
    # a literal list in click.Choice is a second copy of names some module checks: they drift apart
    literal = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "Choice" and node.args:
                values = node.args[0]
                if isinstance(values, (ast.List, ast.Tuple)) and any(isinstance(v, ast.Constant) for v in values.elts):
                    literal.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert literal == []
