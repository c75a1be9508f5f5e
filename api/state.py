"""The service's state database: API keys (stored hashed) and per-key usage, in one SQLite file.

A key reads ``whk_<id>_<secret>``.  Only ``sha256(secret)`` is stored; a request's key is found by its
``id`` and its secret compared in constant time (:func:`hmac.compare_digest`), so neither a lookup by
secret nor a timing difference gives a key away.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whence.errors import InvalidInput, StoreUnavailable

_SCHEMA = """
CREATE TABLE IF NOT EXISTS keys(
    id TEXT PRIMARY KEY, name TEXT NOT NULL, secret_sha256 TEXT NOT NULL,
    created REAL NOT NULL, revoked REAL
);
CREATE TABLE IF NOT EXISTS usage(
    key TEXT NOT NULL REFERENCES keys(id), day TEXT NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0, prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0, cost_usd REAL NOT NULL DEFAULT 0,
    PRIMARY KEY(key, day)
);
"""


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key as listed (never with its secret)."""

    id: str
    name: str
    created: float
    revoked: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "created": _iso(self.created),
            "revoked": _iso(self.revoked) if self.revoked else None,
        }


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class State:
    """Keys and usage (thread-safe)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailable(f"state database {self.path} cannot be opened: {exc}") from exc
        try:
            self._db.execute("PRAGMA busy_timeout=10000")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # WAL: durable across a crash of the server
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            self._db.close()
            raise StoreUnavailable(
                f"state database {self.path} cannot be used: {exc} (WHENCE_STATE / --state names it)"
            ) from exc
        self._lock = threading.Lock()
        # Usage is added up in memory and written by a background thread every FLUSH_SECONDS (and on read
        # and close): a request never waits for a write, and every server process's counts reach the file
        # within a second, whichever process a later GET /v1/usage lands on.
        self._pending: dict[tuple[str, str], list[float]] = {}
        self._closing = threading.Event()
        self._flusher: threading.Thread | None = None

    def create_key(self, name: str) -> tuple[ApiKey, str]:
        """A new key; returns it and the full key text (shown once, never stored)."""
        name = name.strip()
        if not name or len(name) > 100:
            raise InvalidInput("a key needs a name of 1 to 100 characters")
        kid = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        now = time.time()
        with self._lock:
            self._db.execute(
                "INSERT INTO keys(id, name, secret_sha256, created) VALUES (?,?,?,?)",
                (kid, name, _digest(secret), now),
            )
        return ApiKey(kid, name, now, None), f"whk_{kid}_{secret}"

    def list_keys(self) -> list[ApiKey]:
        with self._lock:
            rows = self._db.execute("SELECT id, name, created, revoked FROM keys ORDER BY created").fetchall()
        return [ApiKey(*r) for r in rows]

    def revoke(self, key_id: str) -> bool:
        """Revoke a key by id (or by its full text); returns whether it existed and was active."""
        kid = key_id.split("_")[1] if key_id.startswith("whk_") and key_id.count("_") >= 2 else key_id
        with self._lock:
            cur = self._db.execute(
                "UPDATE keys SET revoked=? WHERE id=? AND revoked IS NULL", (time.time(), kid)
            )
        return cur.rowcount > 0

    def check(self, key: str) -> tuple[ApiKey | None, str]:
        """The key a request presented: (key, "") when valid, else (key or None, why)."""
        parts = key.split("_", 2)
        if len(parts) != 3 or parts[0] != "whk" or not parts[1] or not parts[2]:
            return None, "malformed API key"
        with self._lock:
            row = self._db.execute(
                "SELECT id, name, created, revoked, secret_sha256 FROM keys WHERE id=?", (parts[1],)
            ).fetchone()
        # Compare even when the id is unknown, so that the time taken says nothing about ids.
        stored = row[4] if row else "0" * 64
        ok = hmac.compare_digest(_digest(parts[2]), stored)
        if row is None or not ok:
            return None, "unknown API key"
        api_key = ApiKey(*row[:4])
        if api_key.revoked:
            return api_key, "this API key was revoked"
        return api_key, ""

    FLUSH_SECONDS = 1.0

    def record(
        self,
        key_id: str,
        requests: int = 1,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        cost: float = 0.0,
    ) -> None:
        """Count requests (and the tokens they used) for a key."""
        day = time.strftime("%Y-%m-%d", time.gmtime())
        with self._lock:
            acc = self._pending.setdefault((key_id, day), [0, 0, 0, 0.0])
            acc[0] += requests
            acc[1] += prompt_tokens
            acc[2] += completion_tokens
            acc[3] += cost
            if self._flusher is None and not self._closing.is_set():
                self._flusher = threading.Thread(target=self._flush_loop, name="whence-usage", daemon=True)
                self._flusher.start()

    def _flush_loop(self) -> None:
        while not self._closing.wait(self.FLUSH_SECONDS):
            with self._lock:
                self._flush()

    def _flush(self) -> None:
        """Write the pending usage (the caller holds the lock)."""
        if not self._pending:
            return
        rows = [(k, d, int(r), int(p), int(c), x) for (k, d), (r, p, c, x) in self._pending.items()]
        self._pending = {}
        self._db.execute("BEGIN")
        self._db.executemany(
            "INSERT INTO usage(key, day, requests, prompt_tokens, completion_tokens, cost_usd)"
            " VALUES (?,?,?,?,?,?) ON CONFLICT(key, day) DO UPDATE SET"
            " requests = requests + excluded.requests,"
            " prompt_tokens = prompt_tokens + excluded.prompt_tokens,"
            " completion_tokens = completion_tokens + excluded.completion_tokens,"
            " cost_usd = cost_usd + excluded.cost_usd",
            rows,
        )
        self._db.execute("COMMIT")

    def usage(self, key_id: str) -> dict[str, Any]:
        with self._lock:
            self._flush()
            rows = self._db.execute(
                "SELECT day, requests, prompt_tokens, completion_tokens, cost_usd FROM usage"
                " WHERE key=? ORDER BY day",
                (key_id,),
            ).fetchall()
        days = [
            {"day": d, "requests": r, "prompt_tokens": p, "completion_tokens": c, "cost_usd": round(x, 8)}
            for d, r, p, c, x in rows
        ]
        total = {k: sum(d[k] for d in days) for k in ("requests", "prompt_tokens", "completion_tokens")}
        return total | {"cost_usd": round(sum(d["cost_usd"] for d in days), 8), "by_day": days}

    def close(self) -> None:
        self._closing.set()
        if self._flusher is not None:
            self._flusher.join()
        with self._lock:
            self._flush()
        self._db.close()
