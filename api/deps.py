"""What routes share: the service object (settings, state, store per thread, limiter, metrics) and the
API-key dependency."""

from __future__ import annotations

import threading
import time
from typing import Any

from fastapi import Depends, Request

from whence.errors import WhenceError
from whence.index.stores import Store, open_store

from .http_errors import ApiError, status_of
from .limits import RateLimiter, retry_after
from .metrics import Metrics
from .searchpool import SearchPool
from .settings import Settings
from .state import ApiKey, State
from .webhooks import Webhooks


class Service:
    """Everything a request may need, created once per app."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.started = int(time.time())  # the `created` of the served model in /v1/models
        self.state = State(settings.state)
        self.limiter = RateLimiter(
            settings.rate_limit_per_minute, settings.rate_limit_burst, f"{settings.state}-ratelimit"
        )
        self.searches = SearchPool(settings.index, settings.search_processes, self.store)
        self.metrics = Metrics(
            self._documents,
            lambda: float(len(self.searches.pids())),
            lambda: float(self.searches.queued()),
        )
        self.searches.on_exit = self.metrics.search_process_exits.inc
        self._local = threading.local()
        self._stores: list[Store] = []
        self._lock = threading.Lock()  # the list of open stores
        self._generator_lock = threading.Lock()  # making the generator (which opens a store itself)
        self._generator: Any = None
        self.webhooks = Webhooks(
            settings.webhook_hosts,
            settings.webhook_queue,
            settings.webhook_attempts,
            settings.webhook_backoff,
        )

    def store(self) -> Store:
        """This thread's read-only handle on the index (SQLite connections are per thread)."""
        st: Store | None = getattr(self._local, "store", None)
        if st is None:
            try:
                st = open_store(self.settings.index, readonly=True)
            except WhenceError as exc:
                raise ApiError(status_of(exc), f"index unavailable: {exc}") from exc
            self._local.store = st
            with self._lock:
                self._stores.append(st)
        return st

    def _documents(self) -> float:
        try:
            return float(self.store().count_documents())
        except (ApiError, WhenceError):
            return float("nan")

    @property
    def has_model(self) -> bool:
        """Whether a model is configured (local or remote), loaded or not."""
        return bool(self.settings.model or self.settings.remote)

    def generator(self) -> Any:
        """The attributed generator, made on first use; 503 when no model is configured."""
        with self._generator_lock:
            if self._generator is None:
                self._generator = self._make_generator()
            return self._generator

    def _make_generator(self) -> Any:
        s = self.settings
        if not s.model and not s.remote:
            raise ApiError(
                503, "no model configured: start the server with --model ID_OR_PATH or --remote URL"
            )
        import importlib

        gen: Any = importlib.import_module("whence.generator")  # torch and httpx load only now
        try:
            key = s.remote_api_key.get_secret_value() if s.remote_api_key else None
            if s.remote:
                from whence.generator.tgi import remote_backend

                backend = remote_backend(
                    s.remote, protocol=s.remote_protocol, model=s.remote_model, api_key=key
                )
            else:
                backend = gen.LocalGenerator(s.model)
            attributor = gen.Attributor(self.store(), policy=s.policy, context_chars=s.context_chars)
            return gen.AttributedGenerator(backend, attributor, regenerate_tries=s.regenerate_tries)
        except WhenceError as exc:
            raise ApiError(503, f"the model could not be loaded: {exc}") from exc

    def close(self) -> None:
        self.webhooks.close()  # before the generator: the job it holds may still be generating
        self.searches.close()
        with self._generator_lock:
            if self._generator is not None:
                self._generator.close()
        with self._lock:
            for st in self._stores:
                st.close()
            self._stores.clear()
        self.limiter.close()
        self.state.close()


# The dependencies are coroutines: a plain function would be run on the thread pool, a thread hop per
# dependency per request for work (a dict lookup, one indexed SQLite read) far shorter than the hop.
async def service(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


async def api_key(request: Request, svc: Service = Depends(service)) -> ApiKey:  # noqa: B008 - FastAPI's idiom
    """The caller's API key (``Authorization: Bearer <key>``): 401 without a valid one, 403 when revoked,
    429 over the key's rate limit.  Each accepted request is counted in the key's usage."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            "this route needs an API key: send 'Authorization: Bearer <key>' "
            "(create one with `whence keys create --name NAME`)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    key, why = svc.state.check(token.strip())
    if key is None:
        raise ApiError(401, why, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if why:
        raise ApiError(403, why)
    wait = svc.limiter.take(key.id)
    if wait:
        per = svc.settings.rate_limit_per_minute
        raise ApiError(
            429, f"rate limit exceeded ({per} requests per minute per key)", headers=retry_after(wait)
        )
    svc.state.record(key.id)
    request.state.key = key
    return key
