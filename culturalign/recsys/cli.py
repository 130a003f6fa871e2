"""Command-line pieces of the recommendation-explanation extension (registered by :mod:`.plugin`)."""

from __future__ import annotations

import json

import click

from ..errors import CulturalignError
from ..fileio import json_text
from . import MOVIELENS, MOVIELENS_SOURCES


def _echo_json(obj) -> None:
    click.echo(json_text(obj))


def _task_count(value, name):
    if value is None:
        return None
    try:
        n = int(value)
    except ValueError:
        raise CulturalignError(f"--{name} for recexplain is a number of tasks, got {value!r}") from None
    if n < 1:
        raise CulturalignError(f"--{name} must be at least 1, got {n}")
    return n


def compile_explainer(
    program, *, optimizer, model, prompt_model, out, seed, split_seed, train, val, test, skip_train_score, progress
):
    """`culturalign compile --program recexplain...`: --train/--val/--test are numbers of tasks."""
    from .compile_explainer import run_compile_explainer

    sizes = {k: n for k, v in (("train", train), ("val", val), ("test", test)) if (n := _task_count(v, k))}
    path, manifest = run_compile_explainer(
        program,
        optimizer,
        model,
        out=out,
        seed=seed,
        split_seed=split_seed,
        prompt_model=prompt_model,
        sizes=sizes,
        progress=progress,
        score_splits=("val", "test") if skip_train_score else ("train", "val", "test"),
    )
    scores = ", ".join(
        f"{k} {v['mean_score']:.3f} (gate pass {v['faithfulness_pass_rate']:.0%})"
        for k, v in manifest["scores"].items()
        if not v.get("skipped")
    )
    click.echo(
        f"wrote {path}/program.json and manifest.json; mean score: {scores}; "
        f"{manifest['usage']['calls']} reader calls, {manifest['usage']['lm_calls']} LM calls, "
        f"{manifest['wall_seconds']:.0f} s compiling"
    )


def evaluate_explainer(program_dir, *, split, model, as_json):
    """`culturalign evaluate` for a saved explainer: plain vs hand-written vs compiled explanations."""
    from ..optimization.saved import load_manifest
    from .compile_explainer import evaluate_explainer as evaluate

    table, summary = evaluate(program_dir, split=split, model=model)
    if as_json:
        _echo_json(
            {
                "program": load_manifest(program_dir)["program"],
                "split": split,
                "tasks": int(table.task.nunique()),
                "conditions": summary.to_dict(orient="records"),
            }
        )
        return
    click.echo(summary.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


@click.group("data")
def data_group():
    """Datasets for recommendation explanations."""


@data_group.command("fetch")
@click.argument("name", type=click.Choice([MOVIELENS]))
@click.option(
    "--source",
    type=click.Choice(MOVIELENS_SOURCES),
    default="auto",
    show_default=True,
    help="auto: GroupLens when reachable, else the copy in the recbole==1.2.1 wheel on PyPI.",
)
@click.option("--out", default=None, help="Folder for the tidy catalogue (default: the culturalign cache).")
def data_fetch(name, source, out):
    """Download, verify and store a dataset in culturalign's tidy catalogue form."""
    from . import movielens

    folder = movielens.fetch(out, source=source, log=lambda m: click.echo(m, err=True))
    info = json.loads((folder / "source.json").read_text())
    c = info["counts"]
    click.echo(
        f"{name}: {c['ratings']} ratings, {c['users']} users, {c['items']} items from {info['source']} "
        f"(verified); countries known for {info['items_with_facts']['countries']} items -> {folder}"
    )


@click.command("recommend")
@click.option("--user", type=int, default=None, help="Show this user's top-k recommendations with item facts.")
@click.option("--k", type=click.IntRange(1, 100), default=10, show_default=True)
@click.option("--catalog", "catalog_dir", default=None, help="Catalogue folder (default: fetched MovieLens-100k).")
@click.option("--json", "as_json", is_flag=True)
def recommend_cmd(user, k, catalog_dir, as_json):
    """Item-kNN recommendations; without --user, recall@k and NDCG@k against popularity on a temporal hold-out."""
    from . import movielens, recommender
    from .catalog import load_catalog

    catalog = load_catalog(catalog_dir) if catalog_dir else movielens.load()
    if user is None:
        table = recommender.benchmark(catalog, k=k)
        if as_json:
            _echo_json(table.to_dict(orient="records"))
        else:
            click.echo(table.to_string(index=False))
        return
    train, _ = recommender.temporal_split(catalog.ratings)
    model = recommender.ItemKNN().fit(train, catalog.items["item"])
    facts = [catalog.facts(i) for i in recommender.recommend(model, user, k)]
    if as_json:
        _echo_json(facts)
        return
    for f in facts:
        click.echo(
            f"{f['item']:>5}  {f['title']} ({f['year']}); {', '.join(f['genres'])}; "
            f"{', '.join(f['countries']) or 'country unknown'}"
        )
