"""``whence serve``: the HTTP service (``whence.api``) under uvicorn.

With ``keys.py`` (its API keys), the only module of the CLI that imports the service, and only inside the
command: every other command starts without it.
"""

from __future__ import annotations

import os

import click

from whence.generator.base import POLICIES
from whence.generator.regenerate import MAX_REGENERATE_TRIES

from .options import exit_2_on_error, fail, index_option, open_index, state_option


@click.command("serve")
@index_option
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
@click.option("--remote", default=None, help="TGI or OpenAI-compatible server URL for completions.")
@click.option(
    "--remote-protocol",
    type=click.Choice(["auto", "tgi", "openai"]),
    default=None,
    help="How to talk to --remote (default: $WHENCE_REMOTE_PROTOCOL, else auto: TGI when GET /info "
    "answers like TGI).",
)
@click.option(
    "--remote-model", default=None, metavar="NAME", help="Model to ask --remote for (default: the server's)."
)
@click.option(
    "--api-key",
    default=None,
    metavar="KEY",
    help="Bearer token for --remote (default: $WHENCE_REMOTE_API_KEY; prefer it, a flag shows in `ps`).",
)
@click.option(
    "--served-model-name",
    default=None,
    metavar="NAME",
    help="The model's public name in answers and /v1/models (default: $WHENCE_SERVED_MODEL_NAME, else "
    "bigcode/starcoder2-15b).",
)
@click.option(
    "--policy",
    type=click.Choice(POLICIES),
    default=None,
    help="Attribution policy.",
)
@click.option(
    "--regenerate-tries",
    type=click.IntRange(0, MAX_REGENERATE_TRIES),
    default=None,
    help="Policy regenerate: most tries after the first (default: $WHENCE_REGENERATE_TRIES, else 3).",
)
@state_option
def serve_cmd(
    target: str | None,
    host: str,
    port: int,
    workers: int,
    search_processes: int | None,
    model: str | None,
    remote: str | None,
    remote_protocol: str | None,
    remote_model: str | None,
    api_key: str | None,
    served_model_name: str | None,
    policy: str | None,
    regenerate_tries: int | None,
    state: str | None,
) -> None:
    """Serve the HTTP API, its docs (/docs) and the web page (/) with uvicorn.

    Settings come from WHENCE_* environment variables (see the README); these flags override them.
    """
    import uvicorn

    from whence.index.stores import is_remote

    for name, value in (
        ("INDEX", target),
        ("SEARCH_PROCESSES", None if search_processes is None else str(search_processes)),
        ("STATE", state),
        ("MODEL", model),
        ("REMOTE", remote),
        ("REMOTE_PROTOCOL", remote_protocol),
        ("REMOTE_MODEL", remote_model),
        ("REMOTE_API_KEY", api_key),
        ("SERVED_MODEL_NAME", served_model_name),
        ("POLICY", policy),
        ("REGENERATE_TRIES", None if regenerate_tries is None else str(regenerate_tries)),
    ):
        if value is not None:
            os.environ[f"WHENCE_{name}"] = value  # the app (in every worker) reads its settings from there
    from whence.api.httpcap import uvicorn_http_options
    from whence.api.settings import Settings
    from whence.api.state import State

    try:
        settings = Settings()
    except ValueError as exc:
        fail(f"invalid setting: {exc}")
    if not is_remote(settings.index):
        with open_index(settings.index, readonly=True):  # fail now, not at the first request
            pass
    with exit_2_on_error():  # the keys' database too
        State(settings.state).close()
    click.echo(f"whence serving {settings.index} on http://{host}:{port} (docs at /docs)", err=True)
    try:
        uvicorn.run(
            "whence.api.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            **uvicorn_http_options(),  # 431 for a request head over 64 KiB or 100 fields, before any work
        )
    except SystemExit as exc:  # uvicorn exits 3 when it cannot start (a port in use, say): whence says 2
        if exc.code not in (0, None):
            fail(f"the server could not start on {host}:{port} (the reason is above)")
        raise
