"""``whence lsp``: the language server (:mod:`whence.lsp`), on standard input and output or a TCP port.

pygls comes with the ``lsp`` extra; it is imported inside the command, so other commands start
without it.  Nothing is written to standard output but the protocol: errors before the server starts go
to standard error (exit 2), errors after it are ``window/showMessage`` notifications.
"""

from __future__ import annotations

from pathlib import Path

import click

from .options import default_index, exit_2_on_error, fail, index_option


def _host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        fail(f"--tcp {value}: expected HOST:PORT")
    return host.strip("[]"), int(port)


@click.command("lsp")
@index_option
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Policy file (whence.toml or pyproject.toml). Default: for each document, the nearest one "
    "above its file, as `whence scan` finds it.",
)
@click.option(
    "--fail-on",
    multiple=True,
    metavar="RULE[,RULE]",
    help="verbatim, near-duplicate, copyleft, unknown-license or none (repeatable; overrides the policy).",
)
@click.option(
    "--min-tokens", type=click.IntRange(1), default=None, help="Smallest match (overrides the policy)."
)
@click.option("--tcp", default=None, metavar="HOST:PORT", help="Listen on a TCP port instead of stdio.")
@click.option(
    "--debounce",
    type=click.FloatRange(0, 60),
    default=0.4,
    show_default=True,
    help="Seconds without a newer edit before a changed document is scanned again.",
)
def lsp_cmd(
    target: str | None,
    policy_file: Path | None,
    fail_on: tuple[str, ...],
    min_tokens: int | None,
    tcp: str | None,
    debounce: float,
) -> None:
    """Run a Language Server that shows copied code in the editor.

    Each open document is scanned against the index as `whence scan` scans a file; every copied
    region becomes a diagnostic naming its origin, license and verdict, with a quick fix that adds the
    attribution comment.  Speaks LSP on standard input and output unless --tcp is given.
    """
    try:
        from whence.lsp.document import Scanner
        from whence.lsp.server import serve
    except ImportError as exc:
        fail(f"whence lsp needs pygls ({exc}); install it with: pip install 'whence[lsp]'")
    from whence.scan import policy

    address = _host_port(tcp) if tcp else None
    with exit_2_on_error():  # a policy that cannot be used is an error before the server starts
        if policy_file is not None and policy.read_file(policy_file).source == "defaults":
            fail(f"{policy_file}: no [tool.whence] table in it")
        if fail_on:
            policy.parse_fail_on(fail_on, "--fail-on")
    scanner = Scanner(
        target or default_index(), policy_file=policy_file, fail_on=fail_on, min_tokens=min_tokens
    )
    serve(scanner, tcp=address, debounce=debounce)
