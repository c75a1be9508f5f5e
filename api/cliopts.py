"""What the ``whence`` commands share: the ``--index`` and ``--format`` options, the default index, and
the way every command fails (a message on standard error, exit 2).

Its own module, apart from ``cli.py``: the commands in other modules (``generate``, ``scan``, ``serve``)
import it, and ``cli.py`` imports them, so taking these from ``cli.py`` made each of those modules
impossible to import first.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn

import click


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
