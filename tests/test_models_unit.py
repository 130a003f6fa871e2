"""Model registry, GGUF verification and unreachable servers (fast; no model is loaded)."""

import hashlib

import pytest

from culturalign.errors import ModelError
from culturalign.models import ModelSession, get_spec, gguf_path, load_registry
from culturalign.models.embedded import free_port
from culturalign.models.readiness import model_table


@pytest.fixture
def user_models(tmp_path, monkeypatch):
    path = tmp_path / "models.yaml"
    monkeypatch.setenv("CULTURALIGN_MODELS", str(path))
    monkeypatch.setenv("CULTURALIGN_CACHE_DIR", str(tmp_path / "cache"))
    return path


def test_shipped_registry_has_the_embedded_defaults():
    specs, default = load_registry()
    assert default == "qwen2.5-coder-0.5b"
    assert specs["qwen2.5-coder-0.5b"].provider == "embedded" and specs["qwen2.5-coder-0.5b"].style == "chat"
    assert specs["gemma-3-270m"].style == "completion"  # a base model gets completion-style prompts
    assert "qwen2.5-coder-1.5b" in specs


def test_unknown_model_suggests_names():
    with pytest.raises(ModelError, match="Did you mean qwen2.5-coder-0.5b"):
        get_spec("qwen2.5-coder-05b")


def test_user_file_adds_models_and_rejects_keys_in_files(user_models):
    user_models.write_text(
        "models:\n  mine:\n    provider: openai\n    base_url: http://127.0.0.1:9/v1\n"
        "    model: m\n    api_key_env: MY_KEY\n"
    )
    assert get_spec("mine").get("api_key_env") == "MY_KEY"
    user_models.write_text(
        "models:\n  leaky:\n    provider: openai\n    base_url: http://x/v1\n    model: m\n    api_key: sk-secret\n"
    )
    with pytest.raises(ModelError, match="keys never go in model files"):
        get_spec("leaky")
    user_models.write_text("models:\n  unquoted:\n    provider: embedded\n    source: {path: x.gguf, sha256: 12}\n")
    with pytest.raises(ModelError, match="'sha256' must be a quoted string"):
        get_spec("unquoted")
    user_models.write_text("models:\n  odd:\n    provider: vllm\n")
    with pytest.raises(ModelError, match="'provider' must be one of"):
        get_spec("odd")


def test_corrupted_gguf_is_refused_with_its_hash(user_models, tmp_path):
    fake = tmp_path / "broken.gguf"
    fake.write_bytes(b"GGUF" + b"\0" * 1000)
    user_models.write_text(
        f"models:\n  broken:\n    provider: embedded\n    source:\n      path: {fake}\n      sha256: '{'0' * 64}'\n"
    )
    with pytest.raises(ModelError) as err:
        gguf_path(get_spec("broken"))
    assert "corrupted" in str(err.value) and hashlib.sha256(fake.read_bytes()).hexdigest() in str(err.value)


def test_missing_model_package_says_how_to_install(user_models):
    user_models.write_text(
        "models:\n  ghost:\n    provider: embedded\n    source:\n      chunks:\n"
        "        - {package: no_such_weights_pkg, file: data/x.bin}\n      sha256: '" + "1" * 64 + "'\n"
    )
    with pytest.raises(ModelError, match="not installed: missing package.*no_such_weights_pkg.*pip install"):
        ModelSession("ghost")


def test_unreachable_servers_are_named(user_models):
    port = free_port()  # nothing listens there
    user_models.write_text(
        f"models:\n  remote:\n    provider: openai\n    base_url: http://127.0.0.1:{port}\n"
        f"    model: m\n  lama:\n    provider: ollama\n    url: http://127.0.0.1:{port}\n"
        f"    model: llama3\n"
    )
    with pytest.raises(ModelError, match=f"127.0.0.1:{port}"):
        ModelSession("remote")
    with pytest.raises(ModelError, match=f"cannot reach Ollama at http://127.0.0.1:{port}"):
        ModelSession("lama")
    table = model_table().set_index("model")
    # readiness opens a client as a session does, so it names the same URL with the same message
    assert (
        not table.loc["remote", "ready"]
        and f"cannot reach the model server at http://127.0.0.1:{port}/v1" in table.loc["remote", "status"]
    )
    assert (
        not table.loc["lama", "ready"]
        and f"cannot reach Ollama at http://127.0.0.1:{port}" in table.loc["lama", "status"]
    )


def test_missing_api_key_variable_is_named(user_models, monkeypatch):
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    user_models.write_text(
        "models:\n  keyed:\n    provider: openai\n    base_url: http://127.0.0.1:9/v1\n"
        "    model: m\n    api_key_env: NO_SUCH_KEY_VAR\n"
    )
    with pytest.raises(ModelError, match=r"\$NO_SUCH_KEY_VAR, which is not set"):
        ModelSession("keyed")
