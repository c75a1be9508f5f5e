"""Fault injection for crash tests: a process that signals itself at a named point of its work.

``WHENCE_FAILPOINT=POINT=N:SIGNAL`` (for instance ``after-commit=2:SIGKILL``) makes the process send
``SIGNAL`` to itself the ``N``-th time it passes ``POINT``.  A test that kills a build "in the middle"
then kills it exactly there, on any machine however fast or loaded, instead of polling the index and
racing the build to its end; and the process's real signal handling runs (Ctrl-C's ``SIGINT`` raises
``KeyboardInterrupt`` in the main thread, ``SIGKILL`` ends it on the spot as the kernel's OOM killer
would, ``SIGSTOP`` stops it until ``SIGCONT``).  Unset -- always, outside tests -- passing a point costs
one environment lookup.

Points, passed by the stores (:mod:`whence.index.stores`) as a build writes:

``before-commit``
    SQLite: a transaction is written (in a build: a batch of documents, their texts, occurrences and
    posting segment) but not committed.  A process that dies here leaves an unfinished transaction,
    which the next opening of the index rolls back.
``after-commit``
    SQLite: the commit is done; what was added up to there is in the index, nothing after it is.
    Search engine: a batch's bulk request is acknowledged (durable, not yet searchable).

A SQLite build commits every ``--commit-every`` fingerprints and once at its end, so ``after-commit=1``
is the first batch of documents in the index; a build into a search engine passes ``after-commit``
once for each batch of files that adds documents.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

ENV = "WHENCE_FAILPOINT"
POINTS = ("before-commit", "after-commit")

_passed: Counter[str] = Counter()  # passes of each point named by the variable, in this process


def parse(spec: str) -> tuple[str, int, signal.Signals]:
    """``POINT=N:SIGNAL`` as (point, n, signal); raises ValueError for anything else."""
    point, _, rest = spec.partition("=")
    count, _, name = rest.partition(":")
    name = name.strip().upper()
    sig = signal.Signals.__members__.get(name if name.startswith("SIG") else f"SIG{name}")
    if point.strip() not in POINTS or not count.strip().isdigit() or int(count) < 1 or sig is None:
        raise ValueError(
            f"{ENV}={spec!r}: expected POINT=N:SIGNAL with POINT one of {', '.join(POINTS)}, N >= 1 and a "
            "signal name, e.g. after-commit=2:SIGKILL"
        )
    return point.strip(), int(count), sig


def reached(point: str) -> None:
    """Count a pass of ``point``; when ``WHENCE_FAILPOINT`` names this pass, signal this process."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    want, n, sig = parse(spec)
    if want != point:
        return
    _passed[point] += 1
    if _passed[point] == n:
        os.kill(os.getpid(), sig)
