"""One model served at several addresses (``replicas:`` in an ``openai`` spec): a client that sends each request
to the replica with the least work in flight, so that every command — an audit, an evaluation, each cell of a
comparison — spreads over all of them, and ``parallel`` is the sum of theirs.

Answers are cached under the first address (the ``base_url``) whichever replica gave them: replicas are declared
to serve the same weights, and adding or removing one must not throw a study's cache away. Each replica is
checked to serve the model's name when the client opens. DSPy's LM (compile's bootstrap and proposal calls)
talks to the first address only.
"""

from __future__ import annotations

import threading

from .clients import ModelClient, Prompt, Reply


class ReplicaClient:
    def __init__(self, clients: list[ModelClient]):
        if not clients:
            raise ValueError("a replica set needs at least one client")
        first = clients[0]
        self.clients = list(clients)
        self.identity, self.endpoint, self.style = first.identity, first.endpoint, first.style
        self.parallel = sum(c.parallel for c in clients)
        self.served = [0] * len(clients)  # requests each replica answered (what the tests and the user can see)
        self._busy = [0] * len(clients)
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return self.clients[0].base_url

    def _call(self, ask):
        with self._lock:  # the least loaded relative to its own slots; ties go to the first
            i = min(range(len(self.clients)), key=lambda j: self._busy[j] / self.clients[j].parallel)
            self._busy[i] += 1
        try:
            reply = ask(self.clients[i])
        finally:
            with self._lock:
                self._busy[i] -= 1
        with self._lock:
            self.served[i] += 1
        return reply

    def top_logprobs(self, prompt: Prompt, k: int = 20) -> Reply:
        return self._call(lambda c: c.top_logprobs(prompt, k))

    def generate(self, prompt: Prompt, **settings) -> Reply:
        return self._call(lambda c: c.generate(prompt, **settings))

    def embed(self, texts: list[str]) -> list[list[float]]:
        return self._call(lambda c: c.embed(texts))

    def close(self) -> None:
        for client in self.clients:
            client.close()
