"""The OpenAI-compatible embedding provider against a local server each test starts."""

from __future__ import annotations

import logging

import pytest

from sentinel_db.config import load_settings
from sentinel_db.errors import ConfigError, EmbeddingProviderError
from sentinel_db.runtime.embedders import OpenAIEmbedder, embedder_from_settings
from sentinel_db.runtime.query_vectors import QueryEmbedder, question_cache
from tests.embedding_server import DIMENSIONS, Script, embedding_server, text_vector

KEY = "sk-planted-embedding-key-0123456789"


def _embedder(url: str, **options: object) -> tuple[OpenAIEmbedder, list[float]]:
    waits: list[float] = []
    options.setdefault("api_key", KEY)
    embedder = OpenAIEmbedder(url, "test-model", sleep=waits.append, **options)  # type: ignore[arg-type]
    return embedder, waits


def test_embeds_in_order_with_the_model_and_the_key_in_a_header() -> None:
    with embedding_server() as (url, script):
        embedder, _ = _embedder(url)
        vectors = embedder.embed_batch(["alpha", "beta", "gamma"])
    assert vectors == [pytest.approx(text_vector(t)) for t in ("alpha", "beta", "gamma")]
    (request,) = script.requests
    assert request["path"] == "/v1/embeddings"
    assert request["body"] == {"model": "test-model", "input": ["alpha", "beta", "gamma"]}
    assert request["headers"]["Authorization"] == f"Bearer {KEY}"


def test_a_query_in_the_base_url_stays_after_the_endpoint_path() -> None:
    with embedding_server() as (url, script):
        embedder, _ = _embedder(url + "?api-version=2024-02-01")
        embedder.embed("alpha")
    assert script.requests[0]["path"] == "/v1/embeddings?api-version=2024-02-01"
    assert embedder.masked_url.endswith("/v1?api-version=***")


def test_sends_the_configured_dimensions_and_batches_by_the_batch_size() -> None:
    with embedding_server() as (url, script):
        embedder, _ = _embedder(url, batch_size=2, dimensions=DIMENSIONS)
        vectors = embedder.embed_batch([f"text {i}" for i in range(5)])
    assert len(vectors) == 5
    assert [len(r["body"]["input"]) for r in script.requests] == [2, 2, 1]
    assert {r["body"]["dimensions"] for r in script.requests} == {DIMENSIONS}


@pytest.mark.parametrize("status", [429, 500, 503])
def test_retries_a_busy_or_failing_provider_with_growing_waits(status: int) -> None:
    with embedding_server() as (url, script):
        script.fail_next(status, '{"error": {"message": "busy"}}')
        script.fail_next(status)
        embedder, waits = _embedder(url)
        assert embedder.embed("alpha") == pytest.approx(text_vector("alpha"))
    assert len(script.requests) == 3
    assert len(waits) == 2 and waits[1] > waits[0]


def test_honours_a_short_retry_after() -> None:
    with embedding_server() as (url, script):
        script.fail_next(429, "", {"Retry-After": "1.5"})
        embedder, waits = _embedder(url)
        embedder.embed("alpha")
    assert 1.5 <= waits[0] <= 1.5 * 1.1


def test_gives_up_after_the_retries_naming_provider_and_masked_url() -> None:
    with embedding_server() as (url, script):
        for _ in range(4):
            script.fail_next(500)
        embedder, waits = _embedder(url.replace("http://", "http://user:pw@"))
        with pytest.raises(EmbeddingProviderError) as caught:
            embedder.embed("alpha")
    message = caught.value.message
    assert "openai" in message and "HTTP 500 after 4 attempt(s)" in message
    assert "http://***@127.0.0.1:" in message and "pw" not in message
    assert len(waits) == 3


def test_a_refusal_is_not_retried_and_quotes_the_provider() -> None:
    with embedding_server() as (url, script):
        script.fail_next(401, '{"error": {"message": "invalid api key"}}')
        embedder, waits = _embedder(url)
        with pytest.raises(EmbeddingProviderError, match="HTTP 401: invalid api key"):
            embedder.embed("alpha")
    assert waits == [] and len(script.requests) == 1


def test_a_provider_that_does_not_answer_times_out() -> None:
    with embedding_server(Script(hold=True)) as (url, _script):
        embedder, _ = _embedder(url, timeout=0.2, retries=0)
        with pytest.raises(EmbeddingProviderError, match="timed out after 1 attempt"):
            embedder.embed("alpha")


@pytest.mark.parametrize(
    "body",
    ["not json", '{"data": "nope"}', '{"data": [{"index": 0, "embedding": ["x"]}]}', "{}"],
)
def test_a_malformed_answer_is_an_error(body: str) -> None:
    with embedding_server() as (url, script):
        script.fail_next(200, body)
        embedder, _ = _embedder(url)
        with pytest.raises(EmbeddingProviderError, match="malformed answer"):
            embedder.embed("alpha")


def test_a_vector_of_the_wrong_dimension_is_an_error() -> None:
    with embedding_server(Script(dims=3)) as (url, _script):
        embedder, _ = _embedder(url, dimensions=DIMENSIONS)
        with pytest.raises(
            EmbeddingProviderError, match=r"vectors of \[3\] dimensions; expected 8"
        ):
            embedder.embed("alpha")


def test_the_key_never_appears_in_logs_errors_or_repr(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    problems: list[str] = []
    with embedding_server() as (url, script):
        embedder, _ = _embedder(url, retries=1)
        script.fail_next(500, f'{{"error": {{"message": "echo {KEY}"}}}}')
        embedder.embed("alpha")
        script.fail_next(400, '{"error": {"message": "bad request"}}')
        with pytest.raises(EmbeddingProviderError) as caught:
            embedder.embed("beta")
        problems += [caught.value.message, str(caught.value.hint), repr(embedder)]
    settings = load_settings(None, EMBEDDING_URL=url, EMBEDDING_MODEL="m", EMBEDDING_API_KEY=KEY)
    problems += [repr(settings), str(settings.model_dump())]
    assert caplog.records, "retries are logged at DEBUG"
    assert all(KEY not in text for text in [caplog.text, *problems])
    assert KEY in settings.secrets()


def test_settings_build_the_provider_and_refuse_half_a_configuration() -> None:
    assert embedder_from_settings(load_settings(None)) is None
    built = embedder_from_settings(
        load_settings(None, EMBEDDING_URL="http://127.0.0.1:1/v1", EMBEDDING_MODEL="m")
    )
    assert isinstance(built, OpenAIEmbedder) and built.model == "m"
    with pytest.raises(ConfigError, match="EMBEDDING_MODEL"):
        embedder_from_settings(load_settings(None, EMBEDDING_URL="http://127.0.0.1:1/v1"))
    with pytest.raises(ConfigError, match=r"EMBEDDING_URL: .*http"):
        load_settings(None, EMBEDDING_URL="ftp://example.org/v1")


def test_question_vectors_are_cached_and_bounded_by_the_budget() -> None:
    question_cache.clear()
    with embedding_server() as (url, script):
        embedder, _ = _embedder(url)
        query = QueryEmbedder.wrap(embedder, budget=30)
        first = query.vector("how long do we keep logs")
        again = query.vector("how long do we keep logs")
        assert first == again and len(script.requests) == 1
        # The server now holds every request until the test ends: only the budget ends the wait.
        script.hold = True
        query.budget = 0.3
        with pytest.raises(EmbeddingProviderError, match=r"did not answer within 0\.3 s"):
            query.vector("a new question")
        asked = len(script.requests)
        with pytest.raises(EmbeddingProviderError, match="not asked again"):
            query.vector("another new question")
        assert len(script.requests) == asked, "a provider that just failed is left alone"
        assert query.vector("how long do we keep logs") == first
