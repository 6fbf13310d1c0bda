"""The cache's own bookkeeping, without a database: every counter, and bytes that match entries."""

from __future__ import annotations

from sentinel_db.runtime.cache import RepositoryCache
from sentinel_db.runtime.frozen import size_of
from sentinel_db.runtime.metrics import CacheFigures


def _size_of_one(key: str, depends: tuple[tuple[str, int], ...], value: object) -> int:
    alone = RepositoryCache()
    alone.observe(dict(depends))
    alone.put(key, depends, value)
    return alone.bytes


def test_figures_count_every_event_and_bytes_always_match_the_entries() -> None:
    cache = RepositoryCache(max_entries=10, max_bytes=100_000)
    cache.observe({"t": 1, "u": 1})
    cache.put("a", (("t", 1),), "x" * 100)
    cache.put("b", (("u", 1),), "y")
    size_a, size_b = _size_of_one("a", (("t", 1),), "x" * 100), _size_of_one("b", (("u", 1),), "y")
    assert size_a > size_b > 0 and cache.bytes == size_a + size_b and len(cache) == 2
    cache.put("a", (("t", 1),), "x" * 100)  # stored again: counted once
    assert cache.bytes == size_a + size_b
    assert cache.get("b", {"t": 1, "u": 1}) == (True, "y")
    assert cache.get("a", {"t": 1, "u": 2}) == (True, "x" * 100)  # u is not a's table
    assert cache.get("a", {"t": 2, "u": 1}) == (False, None)
    assert cache.get("zz", {"t": 1}) == (False, None)
    cache.observe({"t": 1, "u": 1})  # nothing moved: nothing dropped
    cache.observe({"t": 2, "u": 1})  # t moved: a goes, b stays
    assert cache.figures() == CacheFigures(
        enabled=True,
        hits=2,
        misses=2,
        evictions=0,
        invalidations=1,
        version_checks=3,
        entries=1,
        bytes=size_b,
        max_entries=10,
        max_bytes=100_000,
    )
    cache.clear()
    figures = cache.figures()
    assert (figures.entries, figures.bytes, figures.hits, figures.invalidations) == (0, 0, 2, 1)


def test_nothing_too_big_or_stale_is_stored_and_bytes_stay_within_bounds() -> None:
    cache = RepositoryCache(max_entries=100, max_bytes=2_000)
    cache.observe({"t": 3})
    cache.put("huge", (("t", 3),), "x" * 5_000)
    cache.put("behind", (("t", 2),), "old")
    assert len(cache) == 0 and cache.bytes == 0
    for n in range(50):
        cache.put(f"k{n}", (("t", 3),), "v" * 50)
        assert cache.bytes <= cache.max_bytes
    assert 0 < len(cache) < 50 and cache.evictions == 50 - len(cache)
    assert cache.get("k49", {"t": 3}) == (True, "v" * 50)
    assert cache.get("k0", {"t": 3}) == (False, None)


def test_an_entry_is_counted_at_its_estimated_size_and_the_bounds_are_inclusive() -> None:
    assert (RepositoryCache().max_entries, RepositoryCache().max_bytes) == (10_000, 64 * 1024**2)
    depends = (("t", 1), ("u", 1))
    value, key = "v" * 300, "a-rather-long-key-" * 4
    one = RepositoryCache()
    one.observe({"t": 1, "u": 1})
    one.put(key, depends, value)
    # The documented estimate: value, key, and 64 bytes per table plus one.
    assert one.bytes == size_of(value) + size_of(key) + 64 * (len(depends) + 1)
    exact = RepositoryCache(max_entries=2, max_bytes=one.bytes)
    exact.observe({"t": 1, "u": 1})
    exact.put(key, depends, value)  # exactly the bound: kept
    assert len(exact) == 1 and exact.bytes == one.bytes
    full = RepositoryCache(max_entries=2)
    full.observe({"t": 1})
    full.put("a", (("t", 1),), 1)
    full.put("b", (("t", 1),), 2)  # exactly max_entries: both kept
    assert len(full) == 2 and full.evictions == 0
    full.observe({"t": 2})
    assert full.invalidations == 2  # one per entry dropped
