"""Real servers' wire formats (fast; no model, no network): replies of vLLM, SGLang, Ollama and llama.cpp, written
from each project's own source (tests/fixtures/wire, README.md there names the sources), read by culturalign's
parsers through the scripted MockClient and through the real clients with their transport replaced.

Every answering fixture holds the same next-token distribution, so every server must give the same answer
distribution, including the "10" split: P(10) = P("1") * P("0" | "1") from a second request prefilled with "1".
"""

import json
from pathlib import Path

import pytest

from culturalign.elicitation.conditions import DESCRIPTORS, NO_PERSONA
from culturalign.elicitation.elicit import Context, logprob_prompts, option_distribution
from culturalign.errors import CulturalignError, ModelError
from culturalign.instrument.survey import load_survey
from culturalign.models import MockClient, ModelSession
from culturalign.models.cache import AnswerCache
from culturalign.models.clients import OllamaClient, OpenAICompatClient

WIRE = Path(__file__).parent / "fixtures" / "wire"
FIXTURES = {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(WIRE.glob("*.json"))}
ANSWERING = sorted(name for name, fx in FIXTURES.items() if "after_1" in fx)
REFUSING = sorted(name for name, fx in FIXTURES.items() if "error_says" in fx)

QUESTION = load_survey().item("F063").questions()[0]  # a 1..10 scale: a "1" may be the start of "10"
CONTEXT = Context(NO_PERSONA, "", DESCRIPTORS[0])
PROMPTS = logprob_prompts(CONTEXT, QUESTION)  # the question, then the question with "1" prefilled

# The distribution in every answering fixture (README.md): P(first token), and P(next token | "1").
FIRST = {"1": 0.40, "2": 0.25, "3": 0.15, "4": 0.08}  # the rest (" ", "I", "\n", "The") is no answer
AFTER_1 = {"0": 0.30, "1": 0.01}  # digits go on ("11" is no code); the rest ends the answer "1"
RAW = {
    1: FIRST["1"] * (1 - sum(AFTER_1.values())),
    10: FIRST["1"] * AFTER_1["0"],
    2: FIRST["2"],
    3: FIRST["3"],
    4: FIRST["4"],
}
MASS = sum(RAW.values())
EXPECTED = {code: RAW.get(code, 0.0) / MASS for code in QUESTION.codes}


def fixture_reply(fx: dict, prefilled: bool) -> dict:
    return fx["after_1"] if prefilled and "after_1" in fx else fx["first"]


def is_prefilled(request: dict) -> bool:
    """Whether a request body (or the ollama package's keyword arguments) continues the answer "1"."""
    return (
        request.get("prompt", "").endswith("Answer: 1")
        or (request.get("messages") or [{}])[-1].get("role") == "assistant"
    )


def real_client(fx: dict, monkeypatch) -> tuple:
    """The fixture's provider's own client, answered from the fixture instead of a server; also the list of the
    requests it sent (JSON bodies, or the ollama package's keyword arguments)."""
    sent = []
    if fx["wire"] == "openai":
        client = OpenAICompatClient("http://server.invalid:8000", "m", style=fx["style"], continue_final_message=True)

        def request(method, path, body, headers, timeout=None):  # stands in for the HTTP connection
            body = json.loads(body)
            sent.append(body)
            return fx.get("status", 200), json.dumps(fixture_reply(fx, is_prefilled(body))).encode()

        client._http.request = request
        return client, sent
    import ollama  # the client reads the ollama package's own response objects, so build those

    def answer(self, **kwargs):
        sent.append(kwargs)
        kind = ollama.ChatResponse if "messages" in kwargs else ollama.GenerateResponse
        return kind.model_validate(fixture_reply(fx, is_prefilled(kwargs)))

    monkeypatch.setattr(ollama.Client, "list", lambda self: {"models": [{"model": "qwen2.5:7b", "digest": "d1"}]})
    monkeypatch.setattr(ollama.Client, "chat", answer)
    monkeypatch.setattr(ollama.Client, "generate", answer)
    return OllamaClient("http://ollama.invalid:11434", "qwen2.5:7b", style=fx["style"]), sent


def test_the_fixtures_cover_every_server_and_endpoint():
    covered = {(fx["server"], fx["endpoint"]) for fx in map(FIXTURES.get, ANSWERING)}
    assert covered == {
        ("vLLM", "/v1/chat/completions"),
        ("vLLM", "/v1/completions"),
        ("SGLang", "/v1/chat/completions"),
        ("SGLang", "/v1/completions"),
        ("Ollama", "/api/chat"),
        ("Ollama", "/api/generate"),
        ("Ollama", "/v1/chat/completions"),
        ("llama.cpp", "/v1/chat/completions"),
        ("llama.cpp", "/v1/completions"),
    }
    assert [p.prefill for p in PROMPTS] == ["", "1"]


@pytest.mark.parametrize("name", ANSWERING)
def test_every_server_gives_the_same_answers_through_the_mock(tmp_path, name):
    fx = FIXTURES[name]
    client = MockClient(
        lambda kind, prompt, settings: fixture_reply(fx, prompt.prefill == "1"), wire=fx["wire"], style=fx["style"]
    )
    session = ModelSession(client=client, cache=AnswerCache(tmp_path / "answers.sqlite"))
    replies = [session.top_logprobs(p) for p in PROMPTS]
    dist, mass = option_distribution(QUESTION, [r.top for r in replies])
    assert mass == pytest.approx(MASS) and dist == pytest.approx(EXPECTED)
    assert dist[10] == pytest.approx(0.12 / MASS) and dist[1] == pytest.approx(0.276 / MASS)  # the "10" split
    assert all(r.prompt_tokens > 0 and r.completion_tokens == 1 for r in replies)


@pytest.mark.parametrize("name", ANSWERING)
def test_every_servers_own_client_asks_for_k_and_reads_the_reply(monkeypatch, name):
    fx = FIXTURES[name]
    client, sent = real_client(fx, monkeypatch)
    dist, mass = option_distribution(QUESTION, [client.top_logprobs(p, fx["k"]).top for p in PROMPTS])
    assert mass == pytest.approx(MASS) and dist == pytest.approx(EXPECTED)
    asked = sent[0]
    if fx["wire"] == "ollama" or fx["style"] == "chat":
        assert asked["logprobs"] is True and asked["top_logprobs"] == fx["k"]
    else:  # the legacy completions request: logprobs is the count
        assert asked["logprobs"] == fx["k"]
    assert [is_prefilled(r) for r in sent] == [False, True]


@pytest.mark.parametrize("name", ANSWERING)
def test_a_reply_with_fewer_top_entries_than_asked_for_names_the_cap(monkeypatch, name):
    fx = FIXTURES[name]
    client, _ = real_client(fx, monkeypatch)
    assert len(client.top_logprobs(PROMPTS[0], fx["k"] + 2).top) == 8  # two short: tokens may merge, still read
    with pytest.raises(ModelError) as err:  # 8 where 20 were asked for: the server caps them
        client.top_logprobs(PROMPTS[0], 20)
    message = str(err.value)
    assert fx["endpoint"] in message and "returned 8 top log-probabilities where 20 were asked for" in message
    assert "--max-logprobs 20" in message and "--mode sample" in message


@pytest.mark.parametrize("name", REFUSING)
def test_a_server_that_drops_or_refuses_logprobs_says_what_to_change(tmp_path, monkeypatch, name):
    fx = FIXTURES[name]
    client, _ = real_client(fx, monkeypatch)
    session = ModelSession(client=client, cache=AnswerCache(tmp_path / "answers.sqlite"))
    for _ in range(2):  # one clear error, never a KeyError or TypeError, and not cached: asked again
        with pytest.raises(ModelError) as err:
            session.top_logprobs(PROMPTS[0])
        assert isinstance(err.value, CulturalignError)
        assert fx["endpoint"] in str(err.value)
        for phrase in fx["error_says"]:
            assert phrase in str(err.value)
    assert session.usage.calls == 0
