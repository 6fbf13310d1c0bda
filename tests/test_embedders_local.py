"""The sentence-transformers provider (the ``sentence-transformers`` test group)."""

from __future__ import annotations

import math
import os

import pytest

from sentinel_db.config import load_settings
from sentinel_db.runtime.embedders import SentenceTransformerEmbedder, embedder_from_settings
from tests.groups import ST_MODEL_VARIABLE, group_named, unavailable


@pytest.fixture(scope="module")
def sentence_transformers_model() -> str:
    """The model name or folder named by ``SENTINEL_TEST_ST_MODEL``."""
    group = group_named("sentence-transformers")
    if group.problem() is not None:
        pytest.fail(unavailable(group), pytrace=False)
    return os.environ[ST_MODEL_VARIABLE]


def test_a_local_model_embeds_batches_as_unit_vectors(sentence_transformers_model: str) -> None:
    settings = load_settings(
        None,
        EMBEDDING_PROVIDER="sentence-transformers",
        EMBEDDING_MODEL=sentence_transformers_model,
    )
    embedder = embedder_from_settings(settings)
    assert isinstance(embedder, SentenceTransformerEmbedder)
    first, second = embedder.embed_batch(["firewall rules review", "firewall rules review"])
    assert first == pytest.approx(second)
    assert math.isclose(math.fsum(v * v for v in first), 1.0, rel_tol=1e-3)
    near, far = embedder.embed_batch(["review the firewall rules", "visitor badges at reception"])
    assert sum(a * b for a, b in zip(first, near, strict=True)) > sum(
        a * b for a, b in zip(first, far, strict=True)
    )
