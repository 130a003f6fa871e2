"""A scripted stand-in for a model session, for fast tests of control flow (never the only test of a feature)."""

import math
import signal

from culturalign.models.clients import Reply

LN = math.log


class FakeSession:
    """Answers every question with a fixed preference for the lowest code; counts calls."""

    parallel = 3
    identity, endpoint = "fake", "fake"
    style = "chat"

    def __init__(self, cache):
        self.cache, self.calls = cache, 0

    def top_logprobs(self, prompt, k=20):
        key = repr(prompt)
        hit = self.cache.get(key)
        if hit:
            return Reply.from_json(hit)
        self.calls += 1
        continuing = prompt.prefill[-1:].isdigit()  # after a "1": does a "0" follow?
        top = [("0", LN(0.5)), ("", LN(0.5))] if continuing else [("1", LN(0.6)), ("2", LN(0.4))]
        reply = Reply(top=top)
        self.cache.put(key, reply.to_json())
        return reply

    def generate(self, prompt, *, temperature, max_tokens, seed, stop=()):
        self.calls += 1
        if len(prompt.turns) == 3:  # a second choice after a first one
            return Reply(text="3")
        return Reply(text=["1", "2", "I cannot answer that."][seed % 3])


class FakeSpec:
    name, provider, style = "fake", "openai", "chat"

    def get(self, key, default=None):
        return default

    def public(self):
        return {"name": self.name, "provider": self.provider, "style": self.style}


class FakeUsage:
    def __init__(self, session):
        self._session = session

    @property
    def calls(self):
        return self._session.calls

    def as_dict(self):
        return {"calls": self.calls}


def fake_model_session(cache):
    """A FakeSession that also looks like a ModelSession to the compile layer."""
    session = FakeSession(cache)
    session.spec, session.base_url, session.usage = FakeSpec(), "http://127.0.0.1:9/v1", FakeUsage(session)
    session.close = lambda: None
    return session


def ctrl_c_answered():
    """``preexec_fn`` for a child whose Ctrl-C a test checks: a test runner started in the background inherits an
    ignored SIGINT, and Python then never raises KeyboardInterrupt in its children."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
