"""Embedding providers configured in settings: an OpenAI-compatible endpoint, or sentence-transformers.

``EMBEDDING_URL`` names an OpenAI-compatible ``/v1`` base (OpenAI, Azure OpenAI, Ollama, vLLM,
LM Studio, text-embeddings-inference all answer ``POST {base}/embeddings``). With
``EMBEDDING_PROVIDER=sentence-transformers`` the model runs in this process instead (the
``[sentence-transformers]`` extra). Both implement :class:`~sentinel_db.records.embeddings.Embedder`.

Failures raise :class:`~sentinel_db.errors.EmbeddingProviderError` naming the provider and the
masked URL; the API key travels only in the ``Authorization`` header and is never logged.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit, urlunsplit

from sentinel_db.config import Settings, mask_http_url
from sentinel_db.errors import ConfigError, EmbeddingProviderError
from sentinel_db.records.embeddings import check_vector
from sentinel_db.redact import library_logger

if TYPE_CHECKING:
    import httpx

log = library_logger("sentinel_db.embeddings")

RETRIES: Final = 3
BACKOFF_SECONDS: Final = 0.5
MAX_RETRY_AFTER: Final = 30.0
_RETRYABLE: Final = frozenset({408, 409, 429, 500, 502, 503, 504})


class OpenAIEmbedder:
    """An OpenAI-compatible ``/v1/embeddings`` endpoint.

    Requests carry ``{"model", "input": [...]}`` (and ``dimensions`` when set); 429 and 5xx
    answers and dropped connections are retried with exponential backoff (honouring a short
    ``Retry-After``). Every vector is checked: numbers only, and one dimension throughout.
    """

    provider: Final = "openai"

    def __init__(
        self,
        url: str,
        model: str,
        *,
        api_key: str | None = None,
        dimensions: int | None = None,
        batch_size: int = 64,
        timeout: float = 30.0,
        retries: int = RETRIES,
        backoff: float = BACKOFF_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import httpx

        self._model = model
        self.base_url = url.rstrip("/")
        self.masked_url = mask_http_url(self.base_url)
        # A query (Azure OpenAI's ?api-version=...) stays after the path we append to.
        parts = urlsplit(self.base_url)
        self._endpoint = urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/embeddings"))
        self.dimensions = dimensions
        self.batch_size = batch_size
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep
        headers = {"Content-Type": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
            headers["api-key"] = api_key  # Azure OpenAI's header
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout), headers=headers, follow_redirects=False
        )

    def __repr__(self) -> str:
        return f"OpenAIEmbedder(url={self.masked_url!r}, model={self._model!r})"

    @property
    def model(self) -> str:
        """The model name sent with each request and stored beside each vector."""
        return self._model

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    def embed(self, text: str) -> list[float]:
        """The embedding of ``text``."""
        return self.embed_batch([text])[0]

    def embed_batch(
        self, texts: Sequence[str], *, timeout: float | None = None
    ) -> list[list[float]]:
        """The embeddings of ``texts`` in order, ``EMBEDDING_BATCH_SIZE`` per request.

        ``timeout`` (seconds) overrides the configured one for these requests.

        Raises:
            EmbeddingProviderError: unreachable, refused, timed out, or an unusable answer.
        """
        found: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            found.extend(self._request(list(texts[start : start + self.batch_size]), timeout))
        return found

    def _fail(self, what: str) -> EmbeddingProviderError:
        return EmbeddingProviderError(
            f"embedding provider {self.provider} at {self.masked_url} (model {self._model}): {what}",
            hint="check EMBEDDING_URL, EMBEDDING_MODEL and EMBEDDING_API_KEY, or search with --lexical",
        )

    def _request(self, texts: list[str], timeout: float | None) -> list[list[float]]:
        import httpx

        body: dict[str, Any] = {"model": self._model, "input": texts}
        if self.dimensions is not None:
            body["dimensions"] = self.dimensions
        extra: dict[str, Any] = {} if timeout is None else {"timeout": httpx.Timeout(timeout)}
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._client.post(self._endpoint, json=body, **extra)
            except httpx.TimeoutException:
                problem, wait = "timed out", None
            except httpx.HTTPError as exc:
                problem, wait = f"cannot connect ({type(exc).__name__})", None
            else:
                if response.status_code == 200:
                    return self._parse(response, len(texts))
                if response.status_code not in _RETRYABLE:
                    raise self._fail(f"HTTP {response.status_code}{_reason(response)}")
                problem, wait = f"HTTP {response.status_code}", _retry_after(response)
            if attempt > self.retries or (problem == "timed out" and timeout is not None):
                raise self._fail(f"{problem} after {attempt} attempt(s)")
            delay = wait if wait is not None else self.backoff * 2 ** (attempt - 1)
            delay *= 1 + random.random() * 0.1  # spread the retries of parallel callers
            log.debug("embedding request %s; retry %d in %.2f s", problem, attempt, delay)
            self._sleep(delay)

    def _parse(self, response: httpx.Response, count: int) -> list[list[float]]:
        try:
            data = response.json()["data"]
            items = sorted(data, key=lambda item: int(item["index"]))
            vectors = [check_vector(item["embedding"]) for item in items]
        except (ValueError, KeyError, TypeError) as exc:
            raise self._fail(f"malformed answer ({type(exc).__name__})") from None
        if len(vectors) != count:
            raise self._fail(f"answered {len(vectors)} vectors for {count} texts")
        return self._checked(vectors)

    def _checked(self, vectors: list[list[float]]) -> list[list[float]]:
        dims = {len(v) for v in vectors}
        expected = self.dimensions
        if len(dims) > 1 or (expected is not None and dims != {expected}):
            want = f"{expected}" if expected is not None else "one dimension"
            raise self._fail(f"vectors of {sorted(dims)} dimensions; expected {want}")
        return vectors


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    try:
        seconds = float(raw) if raw is not None else None
    except ValueError:
        return None
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, MAX_RETRY_AFTER)


def _reason(response: httpx.Response) -> str:
    """The provider's own error message, short (it never holds our key: we sent it in a header)."""
    try:
        message = response.json().get("error", {}).get("message")
    except (ValueError, AttributeError):
        return ""
    return f": {' '.join(str(message).split())[:200]}" if message else ""


class SentenceTransformerEmbedder:
    """A sentence-transformers model run in this process (a model name or a local folder)."""

    provider: Final = "sentence-transformers"

    def __init__(self, model: str, *, batch_size: int = 64, dimensions: int | None = None) -> None:
        try:
            from sentence_transformers import (  # type: ignore[import-not-found,unused-ignore]
                SentenceTransformer,
            )
        except ImportError as exc:
            raise ConfigError(
                "EMBEDDING_PROVIDER=sentence-transformers needs the sentence-transformers package",
                hint="pip install 'sentinel-db[sentence-transformers]'",
            ) from exc
        self._model = model
        self.masked_url = f"local model {model}"
        self.batch_size = batch_size
        self.dimensions = dimensions
        self._encoder: Any = SentenceTransformer(model, truncate_dim=dimensions)

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder(model={self._model!r})"

    @property
    def model(self) -> str:
        """The model name or folder, stored beside each vector."""
        return self._model

    def embed(self, text: str) -> list[float]:
        """The embedding of ``text``."""
        return self.embed_batch([text])[0]

    def embed_batch(
        self, texts: Sequence[str], *, timeout: float | None = None
    ) -> list[list[float]]:
        """The normalised embeddings of ``texts``, in order (``timeout`` is not used locally)."""
        rows = self._encoder.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True
        )
        return [check_vector([float(x) for x in row]) for row in rows]


def embedder_from_settings(
    settings: Settings,
) -> OpenAIEmbedder | SentenceTransformerEmbedder | None:
    """The provider the settings configure, or None when none is.

    Raises:
        ConfigError: a provider is half configured (a URL without a model, or the reverse).
    """
    if settings.embedding_provider == "sentence-transformers":
        if not settings.embedding_model:
            raise ConfigError("EMBEDDING_PROVIDER=sentence-transformers needs EMBEDDING_MODEL")
        return SentenceTransformerEmbedder(
            settings.embedding_model,
            batch_size=settings.embedding_batch_size,
            dimensions=settings.embedding_dimensions,
        )
    if settings.embedding_url is None:
        if settings.embedding_model:
            raise ConfigError("EMBEDDING_MODEL is set but EMBEDDING_URL is not")
        return None
    if not settings.embedding_model:
        raise ConfigError("EMBEDDING_URL is set but EMBEDDING_MODEL is not")
    key = settings.embedding_api_key
    return OpenAIEmbedder(
        settings.embedding_url,
        settings.embedding_model,
        api_key=key.get_secret_value() if key is not None else None,
        dimensions=settings.embedding_dimensions,
        batch_size=settings.embedding_batch_size,
        timeout=settings.embedding_timeout,
    )
