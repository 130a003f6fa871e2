"""Shared fixtures. Tests never touch the network; model tests use the real embedded model."""

import os

import pytest

# Keep every test run offline and quiet: no telemetry, no model-metadata refresh.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def cache_root(tmp_path_factory):
    """One culturalign cache (assembled GGUF + answers) for the whole test session."""
    root = tmp_path_factory.mktemp("culturalign-cache")
    old = os.environ.get("CULTURALIGN_CACHE_DIR")
    os.environ["CULTURALIGN_CACHE_DIR"] = str(root)
    yield root
    if old is None:
        os.environ.pop("CULTURALIGN_CACHE_DIR", None)
    else:
        os.environ["CULTURALIGN_CACHE_DIR"] = old


@pytest.fixture(autouse=True)
def no_fake_session_outlives_its_test():
    """A module imported lazily while a test fakes ``ModelSession`` binds the fake for good; fail the test that
    leaks it, not the unrelated test that later compiles against a fake model."""
    import sys

    yield
    real = getattr(sys.modules.get("culturalign.models.session"), "ModelSession", None)
    for name in ("culturalign.optimization.compile", "culturalign.runs.audit", "culturalign.runs.evaluate"):
        bound = getattr(sys.modules.get(name), "ModelSession", real)
        assert bound is real, f"{name}.ModelSession is still a test's fake: {bound!r}"
