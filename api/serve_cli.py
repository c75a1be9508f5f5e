"""``whence serve`` and ``whence keys``: the HTTP service and its API keys."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

import click

from .cliopts import fail

if TYPE_CHECKING:
    from .state import State

state_option = click.option(
    "--state",
    envvar="WHENCE_STATE",
    default=None,
    metavar="FILE",
    help="State database (API keys, usage). Default: $WHENCE_STATE, else state.sqlite in the data folder.",
)


def _state(path: str | None) -> State:
    """The state database, or exit 2 with the reason it cannot be used."""
    from whence.index.errors import WhenceError

    from .settings import data_dir
    from .state import State

    try:
        return State(path or str(data_dir() / "state.sqlite"))
    except WhenceError as exc:
        fail(str(exc))


@click.command("serve")
@click.option(
    "--index", "target", envvar="WHENCE_INDEX", default=None, metavar="TARGET", help="Index file or URL."
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port.")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Server processes (HTTP, keys, answers); each has its own search processes.",
)
@click.option(
    "--search-processes",
    type=click.IntRange(0, 256),
    default=None,
    help="Processes that run searches, per server process. Default: $WHENCE_SEARCH_PROCESSES, else one "
    "per CPU; 0 searches on the server's threads.",
)
@click.option("--model", default=None, help="Local StarCoder2 for completions (hub id or folder).")
@click.option("--remote", default=None, help="OpenAI-compatible completions server URL for completions.")
@click.option(
    "--policy",
    type=click.Choice(["annotate", "block-copyleft", "block-any"]),
    default=None,
    help="Attribution policy.",
)
@state_option
def serve(
    target: str | None,
    host: str,
    port: int,
    workers: int,
    search_processes: int | None,
    model: str | None,
    remote: str | None,
    policy: str | None,
    state: str | None,
) -> None:
    """Serve the HTTP API, its docs (/docs) and the web page (/) with uvicorn.

    Settings come from WHENCE_* environment variables (see the README); these flags override them.
    """
    import uvicorn

    from whence.index.errors import WhenceError
    from whence.index.stores import is_remote, open_store

    for name, value in (
        ("INDEX", target),
        ("SEARCH_PROCESSES", None if search_processes is None else str(search_processes)),
        ("STATE", state),
        ("MODEL", model),
        ("REMOTE", remote),
        ("POLICY", policy),
    ):
        if value is not None:
            os.environ[f"WHENCE_{name}"] = value  # the app (in every worker) reads its settings from there
    from .settings import Settings

    try:
        settings = Settings()
    except ValueError as exc:
        fail(f"invalid setting: {exc}")
    if not is_remote(settings.index):
        try:  # fail now, not at the first request
            open_store(settings.index, readonly=True).close()
        except WhenceError as exc:
            fail(str(exc))
    _state(settings.state).close()  # the keys' database too (exit 2 if it cannot be used)
    click.echo(f"whence serving {settings.index} on http://{host}:{port} (docs at /docs)", err=True)
    try:
        uvicorn.run(
            "whence.api.app:create_app", factory=True, host=host, port=port, workers=workers, log_level="info"
        )
    except SystemExit as exc:  # uvicorn exits 3 when it cannot start (a port in use, say): whence says 2
        if exc.code not in (0, None):
            fail(f"the server could not start on {host}:{port} (the reason is above)")
        raise


@click.group("keys")
def keys() -> None:
    """API keys of the HTTP service (stored hashed in the state database)."""


@keys.command("create")
@click.option("--name", required=True, help="Who or what the key is for.")
@state_option
def keys_create(name: str, state: str | None) -> None:
    """Create a key; the key itself is printed once, as the last line."""
    from whence.index.errors import WhenceError

    st = _state(state)
    try:
        key, text = st.create_key(name)
    except WhenceError as exc:
        fail(str(exc))
    click.echo(f"created key {key.id} ({key.name}); store it now, it is not shown again:", err=True)
    click.echo(text)


@keys.command("list")
@state_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def keys_list(state: str | None, fmt: str) -> None:
    """Every key: id, name, created, revoked (never the secret)."""
    rows = [k.as_dict() for k in _state(state).list_keys()]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        status = f"revoked {r['revoked']}" if r["revoked"] else "active"
        click.echo(f"{r['id']}\t{r['name']}\t{r['created']}\t{status}")


@keys.command("revoke")
@click.argument("key_id")
@state_option
def keys_revoke(key_id: str, state: str | None) -> None:
    """Revoke a key (by id, or the key itself); requests with it then get 403."""
    if not _state(state).revoke(key_id):
        fail(f"no active key {key_id!r}")
    click.echo(f"revoked {key_id}")
