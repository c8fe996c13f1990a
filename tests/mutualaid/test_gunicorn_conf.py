"""gunicorn's worker hook (mutualaid/gunicorn_conf.py, SPEC OPS-3): once the application is loaded, its
objects are out of the collector's reach and young collections run every GC_THRESHOLD[0] allocations."""
import gc

import pytest

from mutualaid import gunicorn_conf


@pytest.fixture
def collector_restored():
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_a_loaded_worker_freezes_what_it_loaded_and_collects_young_objects_less_often(collector_restored):
    gc.unfreeze()
    loaded = [object.__new__(type("Loaded", (), {})) for _ in range(10)]  # the application's objects

    gunicorn_conf.post_worker_init(worker=None)

    assert gc.get_freeze_count() >= len(loaded)
    assert not any(gc.is_tracked(each) and each in gc.get_objects(generation=2) for each in loaded)
    assert gc.get_threshold() == gunicorn_conf.GC_THRESHOLD
    assert gunicorn_conf.GC_THRESHOLD[0] > 700  # Python's default: a collection every 700 allocations


def test_a_cycle_made_after_the_freeze_is_still_collected(collector_restored):
    # Freezing sets aside what exists then, not what is made afterwards: a request's cycle is still freed.
    gunicorn_conf.post_worker_init(worker=None)

    class Node:
        pass

    first, second = Node(), Node()
    first.other, second.other = second, first
    del first, second

    assert gc.collect() >= 2
