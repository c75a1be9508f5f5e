"""Per-key rate limits shared by server processes, and usage that reaches the state file from all of them."""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import whence_serve
from whence.api.limits import RateLimiter
from whence.api.state import State


class _Clock:
    """A clock the test sets: the limiter's notion of now, without waiting for it."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _frozen() -> float:
    """A clock that never moves (a module-level function: child processes get it by name)."""
    return 1000.0


def _take_many(path: str, key: str, n: int, start: Any) -> int:
    """In a child process: take ``n`` tokens for ``key`` as fast as it can; returns how many it got."""
    limiter = RateLimiter(per_minute=1, burst=25, path=path, clock=_frozen)
    start.wait()
    given = sum(limiter.take(key) == 0 for _ in range(n))
    limiter.close()
    return given


def test_processes_share_one_bucket_per_key(tmp_path: Path) -> None:
    """Three processes hammer one key at once: together they get the burst exactly, not three bursts.
    (Their clock stands still: no token comes back however long the processes take.)"""
    path = str(tmp_path / "state.sqlite-ratelimit")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager, ctx.Pool(3) as pool:
        start = manager.Barrier(3)
        given = pool.starmap(_take_many, [(path, "k1", 40, start)] * 3)
    assert sum(given) == 25, given
    limiter = RateLimiter(per_minute=1, burst=25, path=path, clock=_frozen)
    assert limiter.take("k1") == 60  # the next token is a minute away at 1 a minute
    assert limiter.take("k2") == 0  # another key has its own bucket
    limiter.close()


def test_a_bucket_refills_at_the_rate(tmp_path: Path) -> None:
    clock = _Clock()
    limiter = RateLimiter(per_minute=60, burst=2, path=tmp_path / "rl", clock=clock)
    assert [limiter.take("k") for _ in range(3)] == [0, 0, 1.0]  # empty: one a second
    clock.now += 1.2  # one token back, and 0.2 of the next
    assert limiter.take("k") == 0 and limiter.take("k") == pytest.approx(0.8)
    clock.now += 0.5  # not yet
    assert limiter.take("k") == pytest.approx(0.3)
    clock.now += 3600  # a bucket holds no more than the burst
    assert [limiter.take("k") == 0 for _ in range(3)] == [True, True, False]
    limiter.close()


def test_a_file_of_another_layout_or_an_earlier_boot_is_taken_as_full(tmp_path: Path) -> None:
    path = tmp_path / "rl"
    path.write_bytes(b"not a bucket table")
    clock = _Clock(now=1e6)
    limiter = RateLimiter(per_minute=1, burst=1, path=path, clock=clock)
    assert path.stat().st_size == RateLimiter.SLOTS * 32
    assert limiter.take("k") == 0 and limiter.take("k") > 0
    # The monotonic clock restarts at boot: a bucket stamped later than now is from before a reboot.
    clock.now = 5.0
    assert limiter.take("k") == 0 and limiter.take("k") > 0
    limiter.close()


class _Tiny(RateLimiter):
    SLOTS = 2
    PROBE = 2


def test_a_full_table_evicts_the_oldest_bucket_and_never_refuses_a_new_key(tmp_path: Path) -> None:
    limiter = _Tiny(per_minute=1, burst=1, path=tmp_path / "rl")
    assert limiter.take("a") == 0 and limiter.take("b") == 0
    assert limiter.take("a") > 0 and limiter.take("b") > 0  # both buckets empty, table full
    assert limiter.take("c") == 0  # takes a slot (the oldest) rather than refusing a key it never saw
    limiter.close()


@pytest.mark.timeout(120)
def test_workers_share_the_limit_and_report_usage(built_index: Path, tmp_path: Path) -> None:
    """``whence serve --workers 2``: a key gets its burst once across the workers, and the usage of both
    reaches the state file within a second or so."""
    state_path = tmp_path / "state.sqlite"
    state = State(state_path)
    api_key, secret = state.create_key("shared")
    state.close()
    env = {"WHENCE_RATE_LIMIT_PER_MINUTE": "1", "WHENCE_RATE_LIMIT_BURST": "10"}
    args = ["--index", str(built_index), "--state", str(state_path),
            "--workers", "2", "--search-processes", "0"]  # fmt: skip
    with whence_serve(args, env) as (_, base):  # up once both workers have started

        def one(_: int) -> int:  # a new connection each, so that both workers take some
            auth = {"Authorization": f"Bearer {secret}"}
            return httpx.get(f"{base}/v1/repos/python/cpython", headers=auth, timeout=30).status_code

        began = time.monotonic()
        with ThreadPoolExecutor(8) as ex:
            codes = list(ex.map(one, range(30)))
        # One token a minute: the burst, plus one for each minute the requests took (none, unless the
        # machine stalled for a minute). Two workers each with a bucket of their own would give 20.
        came_back = int((time.monotonic() - began) / 60)
        accepted = codes.count(200)
        assert 10 <= accepted <= 10 + came_back and codes.count(429) == 30 - accepted, codes
        deadline = time.monotonic() + 30  # written every second; the deadline only bounds a failure
        while True:
            reader = State(state_path)
            requests = reader.usage(api_key.id)["requests"]
            reader.close()
            if requests == accepted or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert requests == accepted  # accepted requests only, whichever worker took them
