"""The recommendation-explanation extension, registered through the ``culturalign.plugins`` entry point:
its programs, its task kind (how `culturalign compile` / `evaluate` handle explainers, and what a saved
explainer's split holds) and its commands (`culturalign data`, `culturalign recommend`)."""

from __future__ import annotations


def check_split(s, split) -> None:
    """A saved explainer's split: (user, item, country) tasks per split, and the sizes that re-create them."""
    s.mapping(split, "split", required=("seed", "train", "val", "test"))
    s.whole(split["seed"], "split.seed")
    sizes = s.mapping(
        split.get("sizes"), "split.sizes", required=("train", "val", "test"), allowed=("train", "val", "test")
    )
    for name in ("train", "val", "test"):
        s.whole(sizes[name], f"split.sizes.{name}", 1, 100_000)
        for i, entry in enumerate(s.items(split[name], f"split.{name}", 100_000)):
            s.mapping(entry, f"split.{name}[{i}]", required=("user", "item", "country"))


def register() -> None:
    from ..extend import register_command, register_program, register_task
    from ..plugins import TaskKind
    from .cli import compile_explainer, data_group, evaluate_explainer, recommend_cmd

    for name, cls in (
        ("recexplain", "RecExplainer"),
        ("recexplain_plain", "PlainExplainer"),
        ("recexplain_handwritten", "HandwrittenExplainer"),
    ):
        register_program(name, f"culturalign.recsys.explain:{cls}")  # DSPy loads when one is made
    register_task(
        TaskKind("recexplain", compile=compile_explainer, evaluate=evaluate_explainer, check_split=check_split)
    )
    register_command(data_group)
    register_command(recommend_cmd)
