"""The question's vector at search time: cached per process, and never later than a time budget.

A :class:`QueryEmbedder` wraps the configured provider for searching. A question asked before
is answered from a per-process cache (by model and text); a new one is embedded in a worker
thread that the search waits on for at most ``EMBEDDING_QUERY_BUDGET`` seconds, so a provider
that is down or slow costs a search that much time at worst, never an exception: the caller
falls back to a lexical answer. After a failure the provider is not asked again for
``PAUSE_AFTER_FAILURE`` seconds (new questions answer lexically at once). The provider itself is
built on first use, so opening a database does not load a local model.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Final

from sentinel_db.config import Settings
from sentinel_db.errors import EmbeddingProviderError, SentinelDBError
from sentinel_db.records.embeddings import embed_all

SESSION_KEY: Final = "sentinel_db.query_embedder"
CACHE_ENTRIES: Final = 4096
# After a failure the provider is left alone this long: searches answer lexically at once
# instead of each waiting out the budget on a provider that is down.
PAUSE_AFTER_FAILURE: Final = 10.0
_WORKERS: Final = 4

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(_WORKERS, thread_name_prefix="sentinel-db-embed")
        return _executor


class _VectorCache:
    """Question vectors by (model, text), least recently used dropped first (thread-safe)."""

    def __init__(self, entries: int) -> None:
        self._entries = entries
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[str, str], list[float]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[str, str]) -> list[float] | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return found

    def put(self, key: tuple[str, str], vector: list[float]) -> None:
        with self._lock:
            self._items[key] = vector
            self._items.move_to_end(key)
            while len(self._items) > self._entries:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


question_cache: Final = _VectorCache(CACHE_ENTRIES)


class QueryEmbedder:
    """The configured provider as searches use it: cached, and bounded by a time budget."""

    def __init__(
        self, build: Callable[[], Any], *, model: str, describe: str, budget: float
    ) -> None:
        self._build = build
        self._embedder: Any = None
        self._lock = threading.Lock()
        self.model = model
        self.describe = describe
        self.budget = budget
        self._paused_until = 0.0
        self._pause_reason = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> QueryEmbedder | None:
        """The search-time provider of ``settings`` (None when no provider is configured)."""
        if settings.embedding_provider == "openai" and settings.embedding_url is None:
            return None
        from sentinel_db.runtime.embedders import embedder_from_settings

        return cls(
            lambda: embedder_from_settings(settings),
            model=settings.embedding_model or "",
            describe=(
                f"{settings.embedding_provider} at {settings.masked_embedding_url}"
                if settings.embedding_provider == "openai"
                else f"sentence-transformers model {settings.embedding_model}"
            ),
            budget=settings.embedding_query_budget,
        )

    @classmethod
    def wrap(cls, embedder: Any, *, budget: float = 2.0) -> QueryEmbedder:
        """A provider built elsewhere (a service's own, or a test's)."""
        name = getattr(embedder, "masked_url", None) or type(embedder).__name__
        return cls(lambda: embedder, model=str(embedder.model), describe=str(name), budget=budget)

    def embedder(self) -> Any:
        """The provider itself, built on first use.

        Raises:
            ConfigError: the provider is misconfigured (or its package is missing).
        """
        with self._lock:
            if self._embedder is None:
                self._embedder = self._build()
            return self._embedder

    def vector(self, text: str) -> list[float]:
        """The vector of the question ``text``, from the cache or within the budget.

        Raises:
            EmbeddingProviderError: the provider failed, or did not answer within the budget.
        """
        key = (self.model, text)
        cached = question_cache.get(key)
        if cached is not None:
            return cached
        if time.monotonic() < self._paused_until:
            raise EmbeddingProviderError(
                f"{self._pause_reason} (not asked again for a few seconds)"
            )
        try:
            vector = self._ask(text)
        except SentinelDBError as exc:
            self._pause_reason = exc.message
            self._paused_until = time.monotonic() + PAUSE_AFTER_FAILURE
            raise
        question_cache.put(key, vector)
        return vector

    def _ask(self, text: str) -> list[float]:
        embedder = self.embedder()
        future = _pool().submit(_embed_one, embedder, text, self.budget)
        try:
            return future.result(timeout=self.budget)
        except FutureTimeout:
            raise EmbeddingProviderError(
                f"embedding provider {self.describe} did not answer within {self.budget:g} s"
            ) from None
        except SentinelDBError:
            raise
        except Exception as exc:  # a provider's own failure must not break a search
            raise EmbeddingProviderError(
                f"embedding provider {self.describe} failed ({type(exc).__name__})"
            ) from None


def _embed_one(embedder: Any, text: str, budget: float) -> list[float]:
    batch = getattr(embedder, "embed_batch", None)
    if callable(batch):
        try:
            found: Sequence[Sequence[float]] = batch([text], timeout=budget)
        except TypeError:  # an embed_batch without the timeout keyword
            found = batch([text])
    else:
        found = embed_all(embedder, [text])
    return [float(x) for x in found[0]]
