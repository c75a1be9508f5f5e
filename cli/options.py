"""What the ``whence`` commands share: the ``--index``, ``--format`` and ``--state`` options, the default
index, and the one way every command fails (``error: MESSAGE`` on standard error, exit 2).

The command modules import from here and never from each other or from ``whence.cli`` itself, which
imports them all: so any of them can be imported first.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, cast

import click

from whence.errors import WhenceError

if TYPE_CHECKING:
    from whence.index.stores import Store

F = TypeVar("F", bound=Callable[..., Any])


def default_index() -> str:
    """``$WHENCE_INDEX``, else ``index.sqlite`` in the per-user data folder."""
    env = os.environ.get("WHENCE_INDEX")
    if env:
        return env
    from platformdirs import user_data_dir

    return str(Path(user_data_dir("whence", appauthor=False)) / "index.sqlite")


def fail(message: str) -> NoReturn:
    """``error: MESSAGE`` on standard error, and exit 2 (usage or runtime error)."""
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


@contextmanager
def exit_2_on_error(message: Callable[[WhenceError], str] = str) -> Iterator[None]:
    """Turn a :class:`WhenceError` raised in the block into the CLI's failure: ``message(error)`` on
    standard error and exit 2.  Anything else (``KeyboardInterrupt``, a ``fail`` inside) passes through."""
    try:
        yield
    except WhenceError as exc:
        fail(message(exc))


@contextmanager
def open_index(
    target: str | None,
    *,
    readonly: bool = False,
    create: bool = False,
    rebuild: bool = False,
    message: Callable[[WhenceError], str] = str,
) -> Iterator[Store]:
    """The store at ``target`` (default: :func:`default_index`), closed when the block ends.

    A store that cannot be opened, and any :class:`WhenceError` raised in the block, end the command
    with exit 2 (see :func:`exit_2_on_error`).
    """
    from whence.index.stores import open_store

    with (
        exit_2_on_error(message),
        open_store(target or default_index(), readonly=readonly, create=create, rebuild=rebuild) as store,
    ):
        yield store


def collect(cls: type[Any], name: str, **fixed: Any) -> Callable[[F], F]:
    """A decorator that gathers a command's keyword arguments named like the fields of the dataclass
    ``cls`` into one ``cls`` instance, passed as the keyword ``name``; ``fixed`` gives the fields the
    command has no option for.

    Put it under the ``@click.option`` lines it gathers (next to ``def``), so that click still sees them.
    """
    fields = [f.name for f in dataclasses.fields(cls)]

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            kwargs[name] = cls(**{f: fixed[f] if f in fixed else kwargs.pop(f) for f in fields})
            return command(*args, **kwargs)

        return cast(F, wrapper)

    return decorate


index_option = click.option(
    "--index",
    "target",
    envvar="WHENCE_INDEX",
    default=None,
    metavar="TARGET",
    help="Index: a SQLite file, or http(s)://host:port[/name] of an Elasticsearch/OpenSearch cluster. "
    "Default: $WHENCE_INDEX, else index.sqlite in the user data folder.",
)
format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
state_option = click.option(
    "--state",
    envvar="WHENCE_STATE",
    default=None,
    metavar="FILE",
    help="State database (API keys, usage). Default: $WHENCE_STATE, else state.sqlite in the data folder.",
)
