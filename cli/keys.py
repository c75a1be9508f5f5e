"""``whence keys``: the API keys of the HTTP service (stored hashed in its state database)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from .options import exit_2_on_error, fail, format_option, state_option

if TYPE_CHECKING:
    from whence.api.state import State


def _state(path: str | None) -> State:
    """The state database, or exit 2 with the reason it cannot be used."""
    from whence.api.settings import data_dir
    from whence.api.state import State

    with exit_2_on_error():
        return State(path or str(data_dir() / "state.sqlite"))


@click.group("keys")
def keys_group() -> None:
    """API keys of the HTTP service (stored hashed in the state database)."""


@keys_group.command("create")
@click.option("--name", required=True, help="Who or what the key is for.")
@state_option
def keys_create(name: str, state: str | None) -> None:
    """Create a key; the key itself is printed once, as the last line."""
    st = _state(state)
    with exit_2_on_error():
        key, text = st.create_key(name)
    click.echo(f"created key {key.id} ({key.name}); store it now, it is not shown again:", err=True)
    click.echo(text)


@keys_group.command("list")
@state_option
@format_option
def keys_list(state: str | None, fmt: str) -> None:
    """Every key: id, name, created, revoked (never the secret)."""
    rows = [k.as_dict() for k in _state(state).list_keys()]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        status = f"revoked {r['revoked']}" if r["revoked"] else "active"
        click.echo(f"{r['id']}\t{r['name']}\t{r['created']}\t{status}")


@keys_group.command("revoke")
@click.argument("key_id")
@state_option
def keys_revoke(key_id: str, state: str | None) -> None:
    """Revoke a key (by id, or the key itself); requests with it then get 403."""
    if not _state(state).revoke(key_id):
        fail(f"no active key {key_id!r}")
    click.echo(f"revoked {key_id}")
