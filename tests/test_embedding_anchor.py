"""The embedding anchor: a held-out country placed by the served model's embeddings of the country names (fast:
synthetic vectors, and the stub server for the wire; test_model_e2e.py embeds with the real model)."""

import numpy as np
import pytest

from culturalign.elicitation.respondent import using_session
from culturalign.errors import CulturalignError, ModelError
from culturalign.instrument.survey import load_survey
from culturalign.map import reference
from culturalign.map.neighbours import Retrieval, anchor_point, neighbours, region_anchor
from culturalign.map.splits import country_splits
from culturalign.models import ModelSession
from culturalign.models.cache import AnswerCache
from culturalign.models.clients import OpenAICompatClient, read_embeddings
from culturalign.models.stub_server import StubServer
from culturalign.programs.programs import make_program

REF = reference.countries().set_index("country")
SPLIT = country_splits(0)
TRAIN = SPLIT.loc[SPLIT.split == "train", "country"].tolist()
HELD_OUT = SPLIT.loc[SPLIT.split != "train", "country"].tolist()


def _vectors(seed=0, dim=6):
    rng = np.random.default_rng(seed)
    return {c: rng.normal(size=dim).tolist() for c in REF.index}


def _by_hand_anchor(target, pool, vectors, k):
    """Mean map point of the k pool countries most cosine-similar to the target: numpy only."""
    others = sorted(set(pool) - {target})
    t = np.array(vectors[target])
    sims = [float(np.dot(t, vectors[c]) / np.linalg.norm(t) / np.linalg.norm(vectors[c])) for c in others]
    chosen = [others[i] for i in np.argsort(-np.array(sims), kind="stable")[:k]]
    return tuple(REF.loc[chosen, ["x", "y"]].mean())


@pytest.mark.parametrize("k", [1, 3, 7])
def test_the_embedding_anchor_is_the_mean_point_of_the_most_similar_pool_countries(k):
    vectors = _vectors()
    retrieval = Retrieval(k=k, anchor="embedding").with_vectors(vectors)
    for target in HELD_OUT[:10]:
        assert anchor_point(target, TRAIN, retrieval) == pytest.approx(_by_hand_anchor(target, TRAIN, vectors, k))
        both = anchor_point(target, TRAIN, Retrieval(k=k, anchor="both").with_vectors(vectors))
        by_region = region_anchor(target, TRAIN)
        by_embedding = _by_hand_anchor(target, TRAIN, vectors, k)
        assert both == pytest.approx(((by_region[0] + by_embedding[0]) / 2, (by_region[1] + by_embedding[1]) / 2))


def test_an_embedding_anchor_never_uses_the_target_or_a_held_out_country():
    # the target's own vector equals a training country's: it must still not be its own neighbour, and a
    # held-out country (absent from the pool) is never drawn on even when its vector is the nearest
    vectors = _vectors()
    for target in HELD_OUT:
        twin = HELD_OUT[(HELD_OUT.index(target) + 1) % len(HELD_OUT)]
        vectors[twin] = list(vectors[target])
        found = neighbours(target, TRAIN, Retrieval(k=5, anchor="embedding").with_vectors(vectors))
        names = [c for c, _ in found]
        assert names and target not in names and not set(names) & set(HELD_OUT)
        assert sum(w for _, w in found) == pytest.approx(1)


def test_an_anchor_that_needs_embeddings_says_so_without_them():
    with pytest.raises(CulturalignError, match="needs the model's embeddings"):
        anchor_point("Chile", TRAIN, Retrieval(anchor="embedding"))
    partial = {c: v for c, v in _vectors().items() if c != "Chile"}
    with pytest.raises(CulturalignError, match="missing Chile"):
        anchor_point("Chile", TRAIN, Retrieval(anchor="both").with_vectors(partial))
    with pytest.raises(CulturalignError, match="anchor must be one of region, embedding, both"):
        Retrieval(anchor="moon")
    # the vectors are data, not a setting: equal retrievals compare equal and record the same
    assert Retrieval(anchor="both").with_vectors(_vectors()) == Retrieval(anchor="both")
    assert Retrieval(anchor="both").record() == {"k": 3, "weighting": "uniform", "anchor": "both"}


def test_embeddings_come_over_the_wire_once_and_then_from_the_cache(tmp_path):
    with StubServer() as stub:
        client = OpenAICompatClient(stub.base_url, "stub")
        session = ModelSession(client=client, cache=AnswerCache(tmp_path / "a.sqlite"))
        first = session.embed(["Chile", "Peru", "Chile"])
        assert first[0] == first[2] and first[0] != first[1] and len(first[0]) == 8
        assert stub.stats()["by_path"] == {"/v1/embeddings": 1}
        assert session.embed(["Peru", "Chile"]) == [first[1], first[0]]
        assert stub.stats()["by_path"] == {"/v1/embeddings": 1}  # every text was cached


def test_a_server_that_does_not_embed_is_a_clear_error(tmp_path):
    class NoEmbeddings:
        identity, endpoint, style, parallel, base_url = "x", "y", "chat", 1, "http://x.invalid/v1"

    with pytest.raises(ModelError, match="gives no embeddings: llama.cpp: start llama-server with --embeddings"):
        ModelSession(client=NoEmbeddings(), cache=AnswerCache(tmp_path / "a.sqlite")).embed(["Chile"])
    # llama.cpp's own answer when a server was started without a pooling type (seen from xllamacpp here)
    refusal = (
        b'{"error":{"code":400,"message":"Pooling type \'none\' is not OAI compatible. Please use a different '
        b'pooling type","type":"invalid_request_error"}}'
    )
    client = OpenAICompatClient("http://127.0.0.1:9/v1", "stub")
    client._send = lambda *args, **kwargs: (400, refusal)
    expected = "HTTP 400: .*Pooling type.*does not serve embeddings for 'stub'.*--runner pooling"
    with pytest.raises(ModelError, match=expected):
        client.embed(["Chile"])
    for bad in ({"data": []}, {"data": [{"embedding": "x"}]}, {"data": [{"embedding": [1.0]}, {"embedding": [1, 2]}]}):
        with pytest.raises(ModelError, match="answered"):
            read_embeddings(bad, len(bad["data"]) or 1, "the server")


def test_a_program_with_an_embedding_anchor_retrieves_from_the_models_vectors(tmp_path):
    with StubServer() as stub:
        session = ModelSession(client=OpenAICompatClient(stub.base_url, "stub"), cache=AnswerCache(tmp_path / "a"))
        program = make_program("respondent_knn").fit_countries(TRAIN).set_retrieval(anchor="embedding", k=4)
        with using_session(session, load_survey()):
            found = program.neighbours("Japan")
            vectors = dict(zip(REF.index, session.embed(list(REF.index))))
        expected = neighbours("Japan", TRAIN, Retrieval(k=4, anchor="embedding").with_vectors(vectors))
        assert found == [c for c, _ in expected] and "Japan" not in found
        assert stub.stats()["by_path"] == {"/v1/embeddings": 1}  # every country embedded in one request
    assert program.retrieval_settings()["anchor"] == "embedding"
    path = tmp_path / "program.json"
    program.save(str(path))
    again = make_program("respondent_knn")
    again.load(str(path))
    assert again.retrieval == program.retrieval and again.pool == program.pool


def test_ollama_embeddings_are_read_from_the_ollama_packages_own_response(monkeypatch):
    import ollama

    from culturalign.models.clients import OllamaClient

    # /api/embed answers {"model", "embeddings": [[...], ...]} (Ollama's API docs); the package wraps it
    monkeypatch.setattr(ollama.Client, "list", lambda self: {"models": [{"model": "qwen2.5:7b", "digest": "d1"}]})
    monkeypatch.setattr(
        ollama.Client,
        "embed",
        lambda self, model, input: ollama.EmbedResponse(model=model, embeddings=[[0.1, float(len(t))] for t in input]),
    )
    client = OllamaClient("http://ollama.invalid:11434", "qwen2.5:7b")
    assert client.embed(["Chile", "Peru"]) == [[0.1, 5.0], [0.1, 4.0]]
    monkeypatch.setattr(ollama.Client, "embed", lambda self, model, input: ollama.EmbedResponse(embeddings=[]))
    with pytest.raises(ModelError, match="Ollama at http://ollama.invalid:11434/api/embed answered 1 texts"):
        client.embed(["Chile"])


def test_region_retrieval_needs_no_running_model_and_an_embedding_anchor_says_it_does():
    program = make_program("respondent_knn").fit_countries(TRAIN)
    assert program.neighbours("Japan")  # outside any run: the region anchor asks no model
    with pytest.raises(CulturalignError, match="no active model session"):
        program.set_retrieval(anchor="embedding").neighbours("Japan")
