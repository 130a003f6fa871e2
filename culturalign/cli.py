"""Command line: a thin layer over the Python API. Errors print one clear line and exit non-zero."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import pandas as pd

from . import plugins
from .errors import CulturalignError
from .fileio import json_text, shown, writable_folder
from .map import reference
from .elicitation import MODES
from .map.reference import DEFAULT_COUNTRIES
from .map.splits import SPLITS, TRAIN_AND_TEST
from .optimization import OBJECTIVES
from .programs import PROGRAMS, PROMPT_FORMATS

# Commands import what they need when they run: listing countries or drawing a map loads no DSPy, LiteLLM or
# llama.cpp binding (tests/test_startup.py holds them to it).


def _echo_json(obj) -> None:
    click.echo(json_text(obj))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="culturalign")
def cli():
    """Measure the cultural alignment of language models on the Inglehart-Welzel cultural map."""


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of objects.")
@click.option("--region", help="Only countries of this cultural region.")
def countries(as_json, region):
    """List the 107 reference countries with ISO codes, regions and map positions."""
    table = reference.countries()
    if region is not None:
        if not region.strip():
            raise CulturalignError(f"--region is empty; regions: {', '.join(reference.REGIONS)}")
        match = [r for r in reference.REGIONS if r.lower() == region.lower()]
        if not match:
            raise CulturalignError(f"unknown region {region!r}; regions: {', '.join(reference.REGIONS)}")
        table = table[table.region == match[0]]
    cols = ["country", "iso2", "iso3", "region", "x", "y"]
    if as_json:
        _echo_json(table[cols].to_dict(orient="records"))
    else:
        click.echo(table[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))


@cli.command("surveys")
@click.argument("paths", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of objects.")
@click.option(
    "--questions",
    "list_questions",
    is_flag=True,
    help="List the questions of the surveys named (ids, themes, societies with data) instead.",
)
def surveys_cmd(paths, as_json, list_questions):
    """List the shipped surveys (and any survey files given): items, themes, societies with data, map."""
    from .runs.surveys import question_table, survey_table

    if list_questions:
        if not paths:
            raise CulturalignError(
                "--questions lists the questions of the surveys you name: culturalign surveys wvs7 --questions"
            )
        table = pd.concat([question_table(p).assign(survey=p) for p in paths], ignore_index=True)
        if as_json:
            _echo_json(table.to_dict(orient="records"))
        else:
            click.echo(table.to_string(index=False, max_colwidth=60))
        return
    table = survey_table(paths)
    if as_json:
        _echo_json(table.to_dict(orient="records"))
        return
    shown_cols = table.drop(columns=["themes", "source_path"]).assign(themes=table.themes.map(len))
    click.echo(shown_cols.to_string(index=False))


def _read_json(path: str, what: str):
    from .fileio import read_json

    return read_json(path, f"{what} file")


def _map_survey(name: str):
    """The survey whose projection places answers (``--survey``); one without a map is refused."""
    from .instrument.survey import load_survey

    survey = load_survey(name)
    if survey.map is None:
        raise CulturalignError(
            f"--survey: survey {survey.name!r} has no map projection; name a survey with one "
            "(`culturalign surveys` lists them)"
        )
    return survey


@cli.command()
@click.argument("answers", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON: x, y and nearest countries per input.")
@click.option(
    "--nearest",
    "n_nearest",
    type=click.IntRange(1, 107),
    default=5,
    show_default=True,
    help="How many nearest countries.",
)
@click.option("--fill-mean", is_flag=True, help="Hold missing items at the pooled IVS mean.")
@click.option(
    "--survey",
    "survey_name",
    default="ivs-iw10",
    show_default=True,
    help="The survey whose items and map projection the answers follow.",
)
def project(answers, as_json, n_nearest, fill_mean, survey_name):
    """Project answers (JSON: item code -> value, or a list of such objects) onto the map."""
    from .map import cultmap

    from .instrument.answers import answer_vectors, check_ranges

    survey = _map_survey(survey_name)
    names, vectors, single = answer_vectors(_read_json(answers, "answers"), answers, survey)
    check_ranges(vectors, answers, survey)
    xy = survey.map.project(vectors, fill_mean=fill_mean)
    results = []
    for name, (x, y) in zip(names, xy.itertuples(index=False)):
        near = cultmap.nearest(x, y, n_nearest)
        results.append(
            {
                "name": name,
                "x": float(x),
                "y": float(y),
                "nearest": [{"country": r.country, "distance": float(r.distance)} for r in near.itertuples()],
            }
        )
    if as_json:
        _echo_json(results[0] if single else results)
        return
    for r in results:
        click.echo(
            f"{r['name']}: x = {r['x']:.3f} (survival -> self-expression), y = {r['y']:.3f} (traditional -> secular)"
        )
        for n in r["nearest"]:
            click.echo(f"    {n['country']:<24} {n['distance']:.3f}")


@cli.command("map")
@click.option("--out", default="cultural_map.png", show_default=True, help="Output file: .png, .svg or .html.")
@click.option(
    "--points",
    "points_file",
    type=click.Path(dir_okay=False),
    help="JSON list of extra points: {name, x, y} or {name, <item answers>}.",
)
@click.option("--title", default="Inglehart-Welzel cultural map (IVS 2005-2022)", show_default=True)
@click.option(
    "--survey",
    "survey_name",
    default="ivs-iw10",
    show_default=True,
    help="The survey whose items and map projection answer points follow.",
)
def map_cmd(out, points_file, title, survey_name):
    """Draw the cultural map of the 107 countries, optionally with extra named points."""
    from .instrument.answers import map_points
    from .map.plot import save_map

    survey = _map_survey(survey_name)
    points = None
    if points_file:
        data = _read_json(points_file, "points")
        points = map_points(data, points_file, survey)
    path = save_map(out, points=points, title=title)
    click.echo(f"wrote {path}")


@cli.command()
@click.option("--json", "as_json", is_flag=True)
def models(as_json):
    """List the registered models and whether each is ready to use."""
    from .models.readiness import model_table

    table = model_table()
    if as_json:
        _echo_json(table.to_dict(orient="records"))
    else:
        click.echo(table.to_string(index=False))


@cli.command()
@click.argument("model", required=False)
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address (loopback unless you ask).")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option(
    "--parallel",
    type=click.IntRange(1, 256),
    default=1,
    show_default=True,
    help="Parallel slots (more help on a GPU; one slot keeps recomputed answers closest to reproducible).",
)
def serve(model, host, port, parallel):
    """Serve an embedded model (OpenAI-compatible API) until Ctrl-C or SIGTERM, for notebooks and other tools."""
    import signal
    import threading

    from .models import EmbeddedServer, get_spec

    spec = get_spec(model)
    if spec.provider != "embedded":
        raise CulturalignError(f"model {spec.name!r} is served by {spec.provider}, not embedded; nothing to serve")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # both stop the server and exit 0 (also when started in background)
        signal.signal(sig, lambda *_: stop.set())
    server = EmbeddedServer(spec, n_parallel=parallel, host=host, port=port).start()
    click.echo(f"serving {spec.name} at {server.base_url}/v1 (model id {spec.name}); Ctrl-C to stop", err=True)
    stop.wait()
    server.stop()
    click.echo(f"stopped serving {spec.name} at {server.base_url}/v1", err=True)


@cli.command()
@click.option("--model", default=None, help="Registry name or path to a .gguf file (default: the default model).")
@click.option(
    "--countries",
    default=",".join(DEFAULT_COUNTRIES),
    show_default=True,
    help="Comma-separated names, ISO codes or regions, or 'all'.",
)
@click.option(
    "--conditions",
    default="no_persona,engineered",
    show_default=True,
    help="Comma-separated: no_persona, engineered (Tao et al.'s cultural prompt; cultural_prompt is "
    "the same). Add your own with --template.",
)
@click.option(
    "--template",
    "templates",
    multiple=True,
    help="Extra condition, a template with {country} (and optionally {descriptor}); 'name=template' names it.",
)
@click.option(
    "--mode",
    type=click.Choice(MODES),
    default="logprob",
    show_default=True,
    help="logprob: exact option probabilities; sample: sampled answers; verbalized: the model states the "
    "share of people choosing each option (parse rate reported).",
)
@click.option("--samples", type=int, default=None, help="Samples per question (sample mode only; default 10).")
@click.option("--temperature", type=float, default=None, help="Sampling temperature (sample mode only; default 1.0).")
@click.option(
    "--variants",
    default="all",
    show_default=True,
    help="How many of Tao et al.'s ten respondent descriptors to average over ('all' = 10).",
)
@click.option("--out", default="audit", show_default=True, help="Output directory.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@click.option(
    "--shuffled-control",
    is_flag=True,
    help="Also ask each country condition about a seeded derangement of the countries (scored against "
    "the true ones): a condition no closer than its control carries no country information.",
)
@click.option(
    "--survey",
    "survey_name",
    default="ivs-iw10",
    show_default=True,
    help="A shipped survey's name (`culturalign surveys` lists them) or a survey YAML file.",
)
@click.option(
    "--questions",
    default=None,
    help="Comma-separated question ids and/or themes of the survey (default: every question).",
)
@click.option(
    "--per-theme",
    type=click.IntRange(1, 1000),
    default=None,
    help="Only a seeded, theme-stratified subset: this many questions of every theme (seed 0).",
)
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def audit(
    model,
    countries,
    conditions,
    templates,
    mode,
    samples,
    temperature,
    variants,
    out,
    as_json,
    shuffled_control,
    survey_name,
    questions,
    per_theme,
    no_progress,
):
    """Audit a model: its map position with and without cultural prompting, and its answer distributions
    against each country's, for the given countries."""
    from .instrument.survey import load_survey
    from .runs.audit import run_audit

    conds = [c.strip() for c in conditions.split(",") if c.strip()] + list(templates)
    if variants != "all" and not (variants.isdigit() and 1 <= int(variants) <= 10):
        raise CulturalignError(f"--variants must be a number from 1 to 10 or 'all', got {variants!r}")
    writable_folder(out, "--out")
    inst = load_survey(survey_name)  # a bad survey or question list fails here, before any model starts
    if questions is not None and per_theme is not None:
        raise CulturalignError("--questions and --per-theme both choose questions; give one of them")
    if questions is not None:
        inst = inst.select(questions)
    if per_theme is not None:
        from .instrument.question_splits import stratified_questions

        inst = inst.select(stratified_questions(inst, per_theme))
    result = run_audit(
        model,
        countries=countries,
        conditions=conds,
        mode=mode,
        samples=samples,
        temperature=temperature,
        variants=variants,
        progress=not no_progress,
        shuffled_control=shuffled_control,
        survey=inst,
    )
    path = result.save(out)
    summary = json.loads((path / "summary.json").read_text())  # what save wrote: its intervals take seconds to redo
    if as_json:
        _echo_json(summary)
        return
    _print_audit(summary, path)


def _country_list(value: str | None):
    return [c.strip() for c in value.split(",") if c.strip()] if value else None


@cli.command("compile")
@click.option(
    "--program",
    default="respondent",
    show_default=True,
    type=click.Choice(PROGRAMS.names()),
    help="Registered program to compile.",
)
@click.option("--optimizer", default="mipro-light", show_default=True, help="Preset name or path to a preset YAML.")
@click.option("--model", default=None, help="Task model (registry name or .gguf path; default: the default model).")
@click.option(
    "--prompt-model",
    default=None,
    help="Model that writes instructions / reflects (default: the preset's, else the task model).",
)
@click.option("--out", default=None, help="Output folder (default: programs/PROGRAM-PRESET-MODEL).")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True, help="Optimizer seed.")
@click.option(
    "--split-seed",
    type=click.IntRange(0, 2**32 - 1),
    default=0,
    show_default=True,
    help="Seed of the region-stratified split.",
)
@click.option(
    "--train",
    default=None,
    help="Override: comma-separated training countries (an extension's program may "
    "take another form: see its documentation).",
)
@click.option("--val", default=None, help="Override: comma-separated validation countries (or the extension's form).")
@click.option(
    "--test", "test_", default=None, help="Override: comma-separated test countries (or the extension's form)."
)
@click.option(
    "--score-train",
    is_flag=True,
    help="Also score the compiled program on every training country (by default only the held-out "
    "validation and test splits are scored; training countries the search answered cost nothing).",
)
@click.option("--skip-train-score", is_flag=True, hidden=True, help="Kept for old scripts: the default now.")
@click.option(
    "--prompt-format",
    type=click.Choice(PROMPT_FORMATS),
    default=None,
    help="How the program's prompt is formatted: DSPy's ChatAdapter, or the lean adapter "
    "(default: the program's own; respondent_knn is lean).",
)
@click.option(
    "--retrieval",
    default=None,
    metavar="KEY=VALUE,...",
    help="respondent_knn's retrieval: k (1-20), weighting (uniform, distance), anchor (region, embedding, "
    "both: where a country is placed, by its region or by the model's embedding of its name), evidence "
    "(typical, distribution, consensus, none), per_neighbour (0-10); e.g. k=5,evidence=distribution.",
)
@click.option(
    "--objective",
    type=click.Choice(OBJECTIVES.names()),
    default=None,
    help="What the optimizer maximises (default: the preset's, else distance): exp(-distance), or how "
    "well the point identifies its country among all known countries.",
)
@click.option("--tau", type=float, default=None, help="Width of the contrastive objective in map units (default 0.5).")
@click.option(
    "--survey",
    "survey_name",
    default="ivs-iw10",
    show_default=True,
    help="The survey the program answers: a shipped survey's name or a survey YAML file (with a map).",
)
@click.option("--no-progress", is_flag=True, help="Hide the progress lines.")
def compile_cmd(
    program,
    optimizer,
    model,
    prompt_model,
    out,
    seed,
    split_seed,
    train,
    val,
    test_,
    score_train,
    skip_train_score,
    prompt_format,
    retrieval,
    objective,
    tau,
    survey_name,
    no_progress,
):
    """Compile a culture-conditioned program with an optimizer preset and save it (JSON + manifest)."""
    from .instrument.survey import load_survey
    from .optimization.compile import run_compile, settings_from_text
    from .programs.programs import make_program

    inst = load_survey(survey_name)  # a bad survey fails here, before any model starts
    task = getattr(make_program(program), "task", None)
    if task is not None:  # a program of an extension's task kind compiles its own way
        if objective or tau is not None:
            raise CulturalignError(
                f"--objective and --tau apply to survey respondents; {program!r} is a {task} "
                "program, scored by its own metric"
            )
        plugins.task_kind(task).compile(
            program,
            optimizer=optimizer,
            model=model,
            prompt_model=prompt_model,
            out=out,
            seed=seed,
            split_seed=split_seed,
            train=train,
            val=val,
            test=test_,
            skip_train_score=not score_train,
            progress=not no_progress,
        )
        return
    settings = {"prompt_format": prompt_format, "retrieval": settings_from_text(retrieval, "--retrieval")}
    lists = {
        k: [reference.resolve_country(c) for c in v]
        for k, v in (("train", _country_list(train)), ("val", _country_list(val)), ("test", _country_list(test_)))
        if v
    }
    path, manifest = run_compile(
        program,
        optimizer,
        model,
        out=out,
        seed=seed,
        split_seed=split_seed,
        prompt_model=prompt_model,
        countries=lists,
        progress=not no_progress,
        score_splits=("train", "val", "test") if score_train else ("val", "test"),
        objective=objective,
        tau=tau,
        survey=inst,
        program_settings=settings,
    )
    scores = ", ".join(
        f"{k} {v['mean_distance']:.3f}" for k, v in manifest["scores"].items() if v["mean_distance"] is not None
    )
    click.echo(
        f"wrote {path}/program.json and manifest.json; mean distance: {scores}; "
        f"{manifest['usage']['calls']} model calls, {manifest['wall_seconds']:.0f} s searching, "
        f"{manifest['timing']['scoring_seconds']:.0f} s scoring {'+'.join(manifest['timing']['scored_splits'])}"
    )


@cli.command("evaluate")
@click.argument("program_dir", type=click.Path(file_okay=False))
@click.option(
    "--split",
    default="test",
    show_default=True,
    type=click.Choice((*SPLITS, TRAIN_AND_TEST)),
    help="The program's countries to score; train+test gives the four held-out cells (seen/unseen "
    "countries x seen/unseen questions) on a survey with answer shares.",
)
@click.option("--model", default=None, help="Evaluate on another model than the one in the manifest.")
@click.option(
    "--variants",
    type=click.IntRange(1, 10),
    default=None,
    help="Descriptor variants for the baselines (default: all ten, as Tao et al.).",
)
@click.option(
    "--seeds",
    type=click.IntRange(1, 50),
    default=1,
    show_default=True,
    help="Also compile the same recipe with this many optimizer seeds (the saved one first) and report "
    "the spread; recompiles are saved under PROGRAM_DIR/seeds/.",
)
@click.option(
    "--shuffled-control",
    is_flag=True,
    help="Also ask the compiled program and the engineered prompt about a seeded derangement of the "
    "countries (scored against the true ones): a condition no closer than its control carries no "
    "country information.",
)
@click.option(
    "--survey",
    "survey_name",
    default=None,
    help="Score on this survey (a shipped name or a YAML file) instead of the one the program was compiled "
    "on; said so in the output.",
)
@click.option("--questions", default=None, help="Comma-separated question ids and/or themes of the survey.")
@click.option(
    "--per-theme",
    type=click.IntRange(1, 1000),
    default=None,
    help="Only a seeded, theme-stratified subset: this many questions of every theme (seed 0).",
)
@click.option("--json", "as_json", is_flag=True)
@click.option("--no-progress", is_flag=True, help="Hide the progress bar (shown on stderr while the model answers).")
def evaluate_cmd(
    program_dir,
    split,
    model,
    variants,
    seeds,
    shuffled_control,
    survey_name,
    questions,
    per_theme,
    as_json,
    no_progress,
):
    """Evaluate a saved program against the engineered prompt, no persona and the model-free reference
    predictors (centroid, region lookup) on the same countries."""
    from .optimization.saved import load_manifest
    from .runs.evaluate import evaluate_saved, evaluate_seeds

    task = load_manifest(program_dir).get("task")
    if task is not None:  # an extension's program: its task kind evaluates it
        kind = plugins.task_kind(task)
        if kind is None:
            raise CulturalignError(f"{program_dir} is a {task!r} program, and no installed extension handles that task")
        kind.evaluate(program_dir, split=split, model=model, as_json=as_json)
        return
    if per_theme is not None:
        from .instrument.question_splits import stratified_questions
        from .instrument.survey import load_survey

        if questions is not None:
            raise CulturalignError("--questions and --per-theme both choose questions; give one of them")
        if survey_name is None:
            raise CulturalignError("--per-theme needs --survey (a survey with themes, e.g. wvs7)")
        questions = stratified_questions(load_survey(survey_name), per_theme)
    if seeds > 1:
        if shuffled_control or survey_name or questions:
            raise CulturalignError(
                "--shuffled-control, --survey and --questions work with one seed; run them on the seed you report"
            )
        table, s = evaluate_seeds(program_dir, seeds, split=split, model=model, variants=variants)
    else:
        s = evaluate_saved(
            program_dir,
            split=split,
            model=model,
            variants=variants,
            shuffled_control=shuffled_control,
            survey=survey_name,
            questions=questions,
            progress=not no_progress,
        ).summary
    if s.get("other_survey"):
        click.echo(
            f"note: scored on survey {s['survey']!r}, not {s['compiled_on_survey']!r} which the program was "
            "compiled on (asked for with --survey)",
            err=True,
        )
    if as_json:
        _echo_json(s)
        return
    if "compiled" not in s:  # a survey without a map: distributions only
        _print_distribution(s.get("distribution", {}))
        _print_held_out(s.get("held_out_cells", {}))
        return
    click.echo(
        f"{s['program']} on the {split} split ({len(s['countries'])} countries); skill is against the "
        "training centroid (0 = no better than one constant point, below 0 worse)"
    )
    for cond in ("compiled", "engineered", "no_persona", "centroid", "region_centroid", "neighbours"):
        if cond not in s:
            continue
        c = s[cond]
        label = {"centroid": "centroid*", "region_centroid": "region*", "neighbours": "neighbours*"}.get(cond, cond)
        click.echo(
            f"  {label:<11} mean distance {c['mean_distance']:.3f} (95% CI {c['mean_distance_ci95'][0]:.3f}-"
            f"{c['mean_distance_ci95'][1]:.3f}), skill {_signed(c['skill'])} "
            f"({_signed(c['skill_ci95'][0])} to {_signed(c['skill_ci95'][1])}), closer than the centroid for "
            f"{c['closer_than_centroid']:.0%}, steerability r_x {_signed(c['steerability']['x'])} "
            f"r_y {_signed(c['steerability']['y'])}"
        )
        if "shuffled_control" in c:
            sc = c["shuffled_control"]
            click.echo(
                f"  {'':<11} shuffled countries: mean distance {sc['shuffled_mean_distance']:.3f}; true "
                f"countries closer by {_signed(sc['gap'])} ({_signed(sc['gap_ci95'][0])} to "
                f"{_signed(sc['gap_ci95'][1])}): "
                + (
                    "carries country information"
                    if sc["carries_country_information"]
                    else "no evidence of country information"
                )
            )
        if "lead_over_neighbours" in c:
            ln = c["lead_over_neighbours"]
            click.echo(
                f"  {'':<11} lead over neighbours* {_signed(ln['lead'])} ({_signed(ln['lead_ci95'][0])} to "
                f"{_signed(ln['lead_ci95'][1])}): "
                + (
                    "the model adds to the retrieval"
                    if ln["beats_neighbours"]
                    else "worse than"
                    if ln["lead_ci95"][1] < 0
                    else "no better than"
                )
                + ("" if ln["beats_neighbours"] else " the retrieved neighbours' own mean point")
            )
    click.echo(
        "  * model-free: the training countries' mean point, the mean of the target's region's "
        "training countries (a lookup that knows the region), and the mean point of the training "
        "countries the program retrieves (its neighbours, with no model)"
    )
    click.echo(f"  compiled closer than engineered for {s['improved_share_vs_engineered']:.0%} of countries")
    _print_distribution(s.get("distribution", {}))
    _print_held_out(s.get("held_out_cells", {}))
    if seeds > 1:
        click.echo("  across optimizer seeds:")
        for r in s["seeds"]:
            click.echo(
                f"    seed {r['seed']:<3} mean distance {r['mean_distance']:.3f}, skill {_signed(r['skill'])}, "
                f"closer than engineered for {r['improved_share_vs_engineered']:.0%}  ({r['program_dir']})"
            )
        sp = s["seed_spread"]
        click.echo(
            f"    spread: mean {sp['mean_distance_mean']:.3f}, SD {sp['mean_distance_sd']:.3f}, range "
            f"{sp['mean_distance_min']:.3f}-{sp['mean_distance_max']:.3f}; skill mean "
            f"{_signed(sp['skill_mean'])}, range {_signed(sp['skill_min'])} to {_signed(sp['skill_max'])}"
        )


def _print_distribution(dist: dict) -> None:
    if not dist:
        return
    first = next(iter(dist.values()))
    click.echo(
        f"  answer distributions against each country's, {first.get('n_questions')} questions x "
        f"{first.get('n_countries')} countries (higher 1-JSD, lower tv is closer; skill_tv 0 = no better "
        "than the population marginal):"
    )
    for cond, d in dist.items():
        line = f"    {cond:<22} 1-JSD {_fixed(d['one_minus_jsd'])}  tv {_fixed(d['tv'])}"
        if "parse_rate" in d:
            line += f"  parsed {d['parse_rate']:.0%}"
        if "skill_tv" in d:
            line += (
                f"  skill_tv {_signed(d['skill_tv'])} ({_signed(d['skill_tv_ci95'][0])} to "
                f"{_signed(d['skill_tv_ci95'][1])}), closer than the marginal for {d['closer_than_marginal']:.0%}"
            )
        if "shuffled_control" in d:
            sc = d["shuffled_control"]
            line += (
                f"; tv below its shuffled control by {_signed(sc['gap_tv'])} ({_signed(sc['gap_tv_ci95'][0])} "
                f"to {_signed(sc['gap_tv_ci95'][1])})"
            )
        if "lead_over_neighbours" in d:
            ln = d["lead_over_neighbours"]
            line += (
                f"; below the neighbours' tv by {_signed(ln['tv'])} ({_signed(ln['tv_ci95'][0])} to "
                f"{_signed(ln['tv_ci95'][1])})"
            )
        click.echo(line)


def _print_held_out(found: dict) -> None:
    """tv and skill_tv of each condition in the four cells of seen/unseen countries x questions."""
    for cell, by_condition in found.items():
        parts = [
            f"{cond} tv {_fixed(v.get('tv'))} (skill_tv {_signed(v.get('skill_tv'))})"
            for cond, v in by_condition.items()
            if cond not in ("uniform", "noise_floor")
        ]
        first = next(iter(by_condition.values()))
        click.echo(f"  {cell} ({first.get('n_countries')} x {first.get('n_questions')}): " + "; ".join(parts))


def _fixed(value) -> str:
    return "n/a" if value is None or value != value else f"{value:.3f}"


def _signed(value) -> str:
    return "n/a" if value is None or value != value else f"{value:+.2f}"


def _print_audit(summary: dict, path: Path) -> None:
    click.echo(
        f"\nmodel: {summary['model']}    mode: {summary['config']['mode']}    survey: {summary['config']['survey']}"
    )
    for cond, point in summary["points"].items():
        click.echo(
            f"  {cond:<18} mean point x = {point['x']:+.3f}  y = {point['y']:+.3f}   "
            f"mean distance to targets {summary['mean_distance'][cond]:.3f}"
        )
    for cond, share in summary["improved_share_by_condition"].items():
        steer = summary["steerability"].get(cond, {})
        closer = (
            "no no_persona condition to compare with"
            if share is None
            else f"closer than no persona for {share:.0%} of countries"
        )
        click.echo(f"  {cond}: {closer}; steerability r_x = {_signed(steer.get('x'))}, r_y = {_signed(steer.get('y'))}")
    if summary["yardsticks"]:
        click.echo("  against the model-free leave-one-out centroid (skill 0 = no better than one constant point):")
    for cond, y in summary["yardsticks"].items():
        line = (
            f"    {cond:<22} mean distance {y['mean_distance']:.3f}, skill {_signed(y['skill'])} "
            f"({_signed(y['skill_ci95'][0])} to {_signed(y['skill_ci95'][1])}), closer than the centroid for "
            f"{y['closer_than_centroid']:.0%}"
        )
        if "shuffled_control" in y:
            sc = y["shuffled_control"]
            line += (
                f"; closer than its shuffled-country control by {_signed(sc['gap'])} "
                f"({_signed(sc['gap_ci95'][0])} to {_signed(sc['gap_ci95'][1])})"
            )
        click.echo(line)
    _print_distribution(summary.get("distribution") or {})
    near = ", ".join(f"{n['country']} ({n['distance']:.2f})" for n in summary["nearest_unprompted"])
    if near:
        click.echo(f"  nearest to the unprompted model: {near}")
    u = summary["usage"]
    click.echo(
        f"  model calls: {u['calls']} (cached answers reused: {u['cache_hits']}), prompt tokens: "
        f"{u['prompt_tokens']} ({u['cached_prompt_tokens']} from the prefix cache), {u['seconds']:.0f} s"
    )
    click.echo(f"results: {path}/ (summary.json, *.csv{', map.png, map.html' if summary['points'] else ''})")


@cli.command("compare")
@click.argument("experiment", type=click.Path(dir_okay=False))
@click.option("--out", default=None, help="Results folder (default: the file's 'out', or results/NAME).")
@click.option("--check", is_flag=True, help="Only validate the experiment file and show its grid.")
def compare_cmd(experiment, out, check):
    """Run an experiment file: models x conditions x countries x seeds, then tables, figures and a report."""
    from .runs.compare import grid_conditions, plan, run_compare
    from .runs.experiment import load_experiment

    if out is not None and not out.strip():  # it would write into the current folder
        raise CulturalignError(f"--out must name a folder, got {out!r}")
    exp = load_experiment(experiment)  # every error is reported here, before any model starts
    cells = plan(exp)
    click.echo(
        f"{exp.name}: {len(exp.models)} model(s) x {len(grid_conditions(exp))} condition(s)"
        f"{' (with shuffled controls)' if exp.shuffled_control else ''} = {len(cells)} cells; "
        f"{len(exp.countries)} countries for the baselines, {len(exp.held_out)} held-out countries for "
        f"compiled programs; results in {Path(out or exp.out).resolve()}",
        err=True,
    )
    if check:
        return
    writable_folder(out or exp.out, "--out" if out else f"{experiment}: 'out'")
    folder = run_compare(exp, out=out)
    held_out = folder / "held_out.csv"
    if held_out.stat().st_size > 1:  # a study may run no held-out country: then every country run
        summary = pd.read_csv(held_out)
    else:
        click.echo("no held-out country in this study; every country run:")
        summary = pd.read_csv(folder / "summary.csv")
    click.echo(summary.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    click.echo(f"report: {folder / 'report.html'}  (tables, figures/ and the data beside it)")


@cli.command("report")
@click.argument("results", type=click.Path(file_okay=False))
def report_cmd(results):
    """Rebuild a comparison's tables, figures and report.html from its saved results, or an audit's
    distributional figures and distribution_report.html (no model)."""
    from .report.report import write_report

    if Path(results, "distribution_scores.csv").is_file() and not Path(results, "meta.json").is_file():
        from .report.distribution_report import write_distribution_report

        click.echo(f"wrote {write_distribution_report(results)}")
        return
    click.echo(f"wrote {write_report(results)}")


def main(argv=None) -> None:
    try:
        cli.main(args=argv, standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):  # click turns Ctrl-C inside a command into Abort
        click.echo("interrupted: every answer so far is cached; run the same command again to resume.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except CulturalignError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except OSError as exc:  # the file system refused a path the user gave (a name too long, a full disk, ...)
        where = f"{shown(exc.filename, 120)}: " if exc.filename else ""
        click.echo(f"error: {where}{exc.strerror or exc}", err=True)
        sys.exit(2)


for _command in plugins.commands():  # commands that extensions bring: they add, never replace a built-in one
    if _command.name in cli.commands:
        click.echo(
            f"culturalign: ignoring an extension's command {_command.name!r}: a built-in command has that name",
            err=True,
        )
        continue
    cli.add_command(_command)


if __name__ == "__main__":
    main()
