"""``whence search``: where a snippet came from."""

from __future__ import annotations

import json
import sys

import click

from .options import fail, format_option, index_option, open_index


@click.command("search")
@click.argument("file", required=False, default="-", metavar="[FILE|-]")
@index_option
@click.option(
    "--top", type=click.IntRange(1, 100), default=5, show_default=True, help="Most matches to show."
)
@click.option(
    "--min-tokens",
    type=click.IntRange(1),
    default=None,
    help="Smallest matching span that attributes (default 40 tokens, about 110 characters).",
)
@click.option(
    "--language",
    default=None,
    metavar="LANG",
    help="The snippet's language (The Stack v2's name, e.g. Python, C++, or an alias: py, cpp, js): "
    "its comment and string syntax.  Default: FILE's extension, else guessed from the code.",
)
@format_option
def search_cmd(
    file: str, target: str | None, top: int, min_tokens: int | None, language: str | None, fmt: str
) -> None:
    """Find where a snippet (FILE, or standard input) came from."""
    from whence.index import search as search_mod
    from whence.index.lexer import language_for_path
    from whence.index.sources import SkipFile, read_limited

    limit = search_mod.MAX_QUERY_BYTES
    name = "standard input" if file == "-" else file
    try:
        if file == "-":
            if sys.stdin.isatty():
                fail("paste code on standard input, or give a FILE")
            raw = sys.stdin.buffer.read(limit + 1)  # never more than the limit and one byte
        else:
            raw = read_limited(file, limit, regular_only=False)
    except SkipFile:  # a regular file larger than the limit, refused by its size before reading
        fail(f"{name} is larger than the query limit of {limit} bytes (search a smaller part)")
    except OSError as exc:
        fail(f"{file}: {exc.strerror or exc}")
    if len(raw) > limit:
        fail(f"{name} is larger than the query limit of {limit} bytes (search a smaller part)")
    if not raw.strip():
        fail(f"nothing to search: {name} is empty")
    with open_index(target, readonly=True) as store:
        result = search_mod.search(
            store,
            raw,
            top=top,
            min_tokens=min_tokens or search_mod.MIN_MATCH_TOKENS,
            with_text=fmt == "text",
            language=language or (language_for_path(file) if file != "-" else None),
        )
    if fmt == "json":
        click.echo(json.dumps(result.as_dict(), indent=2))
    else:
        from .render import render_result

        render_result(result, raw.decode("utf-8"))
