"""BoundedCache: the one memo type. Whatever is offered, it never holds more than its bound, and
each eviction policy keeps what it promises."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from id_monitor.classify import BoundedCache, Classifier

KEYS = st.lists(st.integers(0, 300), max_size=2000)


@given(st.integers(0, 64), st.sampled_from(["generations", "fifo", "refuse"]), KEYS)
def test_never_holds_more_than_its_capacity(capacity: int, eviction: str, keys: list[int]) -> None:
    cache: BoundedCache[int, int] = BoundedCache(capacity, eviction)  # type: ignore[arg-type]
    for key in keys:
        if cache.get(key) is None and cache.recall(key) is None:
            cache.offer(key, key * 2)
        assert cache.size <= max(capacity, 1) if capacity else cache.size == 0
    for key, value in cache.items():
        assert value == key * 2


def test_generations_keep_recent_keys_and_copy_old_hits_forward() -> None:
    cache: BoundedCache[int, int] = BoundedCache(4, "generations")
    for key in range(4):
        cache.offer(key, key)
    assert cache.size == 4 and set(cache) == {2, 3} and set(cache.old) == {0, 1}
    assert cache.recall(0) == 0 and 0 in cache  # copied forward
    cache.offer(9, 9)
    assert 1 not in cache and 1 not in cache.old  # the oldest generation is gone


def test_the_classifier_caches_an_id_from_its_second_sighting_on() -> None:
    classifier = Classifier("netra", cache_size=8)
    once = "thread_websocket_factory_1757372478799_528_584ef8a5"
    first = classifier.classify(once)
    assert classifier.cached == 0  # seen once: remembered by the doorkeeper only
    assert classifier.classify(once) == first and classifier.cached == 1
    assert classifier.classify(once) is classifier._cache.get(once)  # a hit from now on


def test_fifo_drops_the_oldest_and_refuse_stops_learning() -> None:
    fifo: BoundedCache[int, int] = BoundedCache(3, "fifo")
    refuse: BoundedCache[int, int] = BoundedCache(3, "refuse")
    for key in range(10):
        fifo.offer(key, key)
        refuse.offer(key, key)
    assert list(fifo) == [7, 8, 9] and list(refuse) == [0, 1, 2]


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        BoundedCache(-1)
    with pytest.raises(ValueError):
        BoundedCache(4, "lru")  # type: ignore[arg-type]
