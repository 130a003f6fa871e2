"""Providers behind one interface (fast; no server, no model): the session's answer cache and both providers'
response parsers, driven through the scripted MockClient."""

import math

import pytest

from culturalign.elicitation.scoring import GenerationConfig, score
from culturalign.errors import CulturalignError, ModelError
from culturalign.instrument.survey import load_survey
from culturalign.models import MockClient, ModelClient, ModelSession, Prompt
from culturalign.models.cache import AnswerCache
from culturalign.models.clients import OpenAICompatClient, openai_base
from culturalign.models.mock import ollama_text, ollama_top, openai_text, openai_top
from culturalign.models.providers import PROVIDERS
from culturalign.programs.programs import baseline

SURVEY = load_survey()
PROMPT = Prompt("You are a person.", (("user", "How proud are you?\n1. Very\n2. Not"),))
COUNTRIES = ["Japan"]


def answers(wire="openai", style="chat"):
    """A script for a whole survey: prefers the lowest code; after a "1", "0" and the end are equally likely."""
    top, text = (openai_top, openai_text) if wire == "openai" else (ollama_top, ollama_text)

    def script(kind, prompt, settings):
        if kind == "generate":  # a second choice (Y002) must differ from the first
            return text("3" if len(prompt.turns) == 3 else str(1 + settings["seed"] % 2), style)
        probs = {"0": 0.5, "": 0.5} if prompt.prefill[-1:].isdigit() else {"1": 0.6, "2": 0.4}
        return top(probs, style) if wire == "openai" else top(probs)

    return script


def run(client, cache, config=GenerationConfig()):
    session = ModelSession(client=client, cache=cache)
    table = score(session, [("no_persona", "prompt", baseline("no_persona", 1))], COUNTRIES, SURVEY, config).table
    return session, table


@pytest.mark.parametrize(
    "wire, style", [("openai", "chat"), ("openai", "completion"), ("ollama", "chat"), ("ollama", "completion")]
)
def test_a_second_run_is_answered_from_the_cache(tmp_path, wire, style):
    cache = AnswerCache(tmp_path / "answers.sqlite")
    client = MockClient(answers(wire, style), wire=wire, style=style)
    first, table = run(client, cache)
    asked = len(client.calls)
    assert asked > 0 and first.usage.calls == asked and first.usage.prompt_tokens == 10 * asked
    again, same = run(MockClient(answers(wire, style), wire=wire, style=style), cache)
    assert again.client.calls == [] and again.usage.calls == 0 and again.usage.cache_hits == asked
    assert same.equals(table) and table.distance.notna().all()


def test_the_generation_config_is_part_of_the_cache_key(tmp_path):
    cache = AnswerCache(tmp_path / "answers.sqlite")
    warm = GenerationConfig(mode="sample", samples=2, temperature=1.0)
    run(MockClient(answers()), cache, warm)
    cached = MockClient(answers())
    run(cached, cache, warm)
    assert cached.calls == []
    cooler = MockClient(answers())
    run(cooler, cache, GenerationConfig(mode="sample", samples=2, temperature=0.5))
    assert cooler.calls and {s["temperature"] for _, _, s in cooler.calls} == {0.5}
    logprob = MockClient(answers())
    run(logprob, cache, GenerationConfig())
    assert logprob.calls and {kind for kind, _, _ in logprob.calls} == {"top_logprobs"}


def test_the_client_is_part_of_the_cache_key(tmp_path):
    cache = AnswerCache(tmp_path / "answers.sqlite")
    run(MockClient(answers()), cache)
    other = MockClient(answers(), identity="mock-v2")  # new weights never reuse old answers
    run(other, cache)
    assert other.calls


def test_the_injected_client_is_the_one_used(tmp_path, monkeypatch):
    models = tmp_path / "models.yaml"  # a registry model whose server is not there: never reached
    models.write_text("models:\n  remote:\n    provider: openai\n    base_url: http://127.0.0.1:9/v1\n    model: m\n")
    monkeypatch.setenv("CULTURALIGN_MODELS", str(models))
    client = MockClient([openai_top({"1": 0.9})], identity="scripted", endpoint="nowhere", parallel=3)
    session = ModelSession("remote", client=client, cache=AnswerCache(tmp_path / "a.sqlite"))
    assert session.client is client and session.spec.name == "remote"
    assert (session.identity, session.endpoint, session.parallel) == ("scripted", "nowhere", 3)
    assert session.top_logprobs(PROMPT).top == [("1", pytest.approx(math.log(0.9)))]
    assert client.calls == [("top_logprobs", PROMPT, {"k": 20})]
    assert ModelSession(client=client, n_parallel=5).parallel == 5  # --parallel still wins


def test_parsers_read_both_providers_and_both_styles():
    for wire, top, text in [
        ("openai", openai_top({"1": 0.5, "2": 0.25}), openai_text("2")),
        ("ollama", ollama_top({"1": 0.5, "2": 0.25}), ollama_text("2")),
    ]:
        client = MockClient([top, text], wire=wire)
        reply = client.top_logprobs(PROMPT)
        assert reply.top == [("1", pytest.approx(math.log(0.5))), ("2", pytest.approx(math.log(0.25)))]
        assert (reply.prompt_tokens, reply.completion_tokens) == (10, 1)
        assert client.generate(PROMPT, temperature=1.0, max_tokens=8, seed=0).text == "2"
    completion = MockClient([openai_text("7", "completion"), ollama_text("7", "completion")], style="completion")
    assert completion.generate(PROMPT, temperature=1.0, max_tokens=8, seed=0).text == "7"
    completion.wire = "ollama"
    assert completion.generate(PROMPT, temperature=1.0, max_tokens=8, seed=0).text == "7"


@pytest.mark.parametrize(
    "wire, kind, response, message",
    [
        ("openai", "top_logprobs", {"choices": []}, "cannot read .*IndexError"),
        ("openai", "top_logprobs", {"error": "overloaded"}, "cannot read .*KeyError"),
        (
            "openai",
            "top_logprobs",
            {"choices": [{"logprobs": {"content": [{"top_logprobs": [{"token": "1"}]}]}}]},
            "cannot read .*KeyError: 'logprob'",
        ),
        ("openai", "top_logprobs", {"choices": [{"text": "1", "logprobs": None}]}, "no log-probabilities"),
        ("openai", "generate", {"choices": "1"}, "cannot read"),
        ("ollama", "top_logprobs", {"message": {"content": ""}}, "no log-probabilities"),
        (
            "ollama",
            "top_logprobs",
            {"logprobs": [{"top_logprobs": [{"token": "1", "logprob": "high"}]}]},
            "cannot read .*ValueError",
        ),
        ("ollama", "generate", {"done": True}, "cannot read .*KeyError: 'message'"),
        ("ollama", "generate", None, "cannot read .*AttributeError"),
    ],
)
def test_a_malformed_response_is_one_clear_error_and_is_not_cached(tmp_path, wire, kind, response, message):
    client = MockClient([response, response], wire=wire)
    session = ModelSession(client=client, cache=AnswerCache(tmp_path / "a.sqlite"))
    ask = (
        (lambda: session.top_logprobs(PROMPT))
        if kind == "top_logprobs"
        else (lambda: session.generate(PROMPT, temperature=1.0, max_tokens=8, seed=0))
    )
    for _ in range(2):  # the failure was not cached: the second call asks again
        with pytest.raises(ModelError, match=message) as err:
            ask()
        assert isinstance(err.value, CulturalignError) and f"mock {wire} server" in str(err.value)
    assert len(client.calls) == 2


def test_a_script_that_runs_out_says_so():
    client = MockClient([openai_top({"1": 1.0})])
    client.top_logprobs(PROMPT)
    with pytest.raises(ModelError, match="script has 1 responses"):
        client.top_logprobs(PROMPT)


def test_every_provider_owns_its_keys_and_every_client_is_a_model_client():
    assert set(PROVIDERS) == {"embedded", "ollama", "openai"}
    for name in PROVIDERS:
        assert PROVIDERS.get(name).keys and not PROVIDERS.get(name).keys & {"provider", "style", "description"}
    assert isinstance(MockClient([]), ModelClient)
    assert isinstance(OpenAICompatClient("http://127.0.0.1:9", "m"), ModelClient)


@pytest.mark.parametrize("url", ["http://h:8000", "http://h:8000/", "http://h:8000/v1", "http://h:8000/v1/"])
def test_the_v1_suffix_is_added_once(url):
    assert openai_base(url) == "http://h:8000/v1"
