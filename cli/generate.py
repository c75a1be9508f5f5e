"""``whence generate``: StarCoder2 completions, each with its attribution.

    whence generate PROMPT [--suffix TEXT] [--model ID_OR_PATH | --remote URL [--remote-protocol P]]
                    [--index TARGET]
                    [sampling options] [--policy annotate|block-copyleft|block-any|regenerate]
                    [--regenerate-tries N] [--context-chars N] [--stream] [--format text|json]

Exit codes: 0 ok, 1 a completion was withheld by the policy, 2 usage or runtime error (an
out-of-range parameter is named).  torch and transformers are imported only here, and only for
``--model``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import click

from whence.generator.base import (
    CONTEXT_CHARS,
    MAX_CONTEXT_CHARS,
    MAX_STOP_STRINGS,
    POLICIES,
    SAMPLING_PARAMS,
)
from whence.generator.regenerate import MAX_REGENERATE_TRIES, REGENERATE_TRIES
from whence.terminal import printable

from .options import exit_2_on_error, fail, format_option, index_option, open_index

DEFAULT_MODEL = "bigcode/starcoder2-3b"

#: Hosted-API parameter name -> CLI option, for error messages.
_OPTION = {p.name: p.option for p in SAMPLING_PARAMS} | {
    "stop": "--stop",
    "policy": "--policy",
    "regenerate_tries": "--regenerate-tries",
    "context_chars": "--context-chars",
    "prompt": "PROMPT",
}


def _sampling_options(f: Callable[..., None]) -> Callable[..., None]:
    """``--max-new-tokens`` … ``--seed``, one option per sampling parameter (type, default and range from
    :data:`whence.generator.base.SAMPLING_PARAMS`), and ``--stop`` before ``--num-responses``."""
    stop = click.option(
        "--stop",
        multiple=True,
        help=f"Stop string (repeatable, up to {MAX_STOP_STRINGS}); output is cut before it.",
    )
    for p in reversed(SAMPLING_PARAMS):  # click lists options in the order the decorators are written
        f = click.option(
            p.option,
            type=p.type,
            default=p.default,
            show_default=p.default is not None,
            help=p.help.format(range=p.range_text),
        )(f)
        if p.name == "num_responses":
            f = stop(f)
    return f


def _message(exc: Exception) -> str:
    """The error, naming the option it is about: "temperature: must be …" -> "--temperature
    (temperature): must be …"."""
    param = getattr(exc, "param", None)
    if param in _OPTION and param != "prompt":
        return f"{_OPTION[param]} ({exc})"
    return str(exc)


def _where(span: dict[str, Any]) -> str:
    """Which lines of the output (and of the prompt or suffix around it) a span covers."""
    q0, q1 = span.get("query_lines") or (0, 0)
    s0, s1 = span.get("source_lines") or (0, 0)
    out = f"lines {s0}-{s1} (output lines {q0}-{q1}"
    for part in ("prompt", "suffix"):
        lines, source = span.get(f"{part}_lines"), span.get(f"{part}_source_lines")
        if lines and source:
            out += f"; {part} lines {lines[0]}-{lines[1]} = lines {source[0]}-{source[1]}"
    return out + ")"


def _summary(att: dict[str, Any] | None, indent: str = "") -> str:
    lines = []
    if not att or att["verdict"] == "none":
        lines.append(f"{indent}attribution: none (no indexed code matched)")
    else:
        lines.append(f"{indent}attribution: {att['verdict']}")
    for m in (att or {}).get("matches", []):
        span = m["spans"][0] if m["spans"] else {}
        licenses = printable(" OR ".join(m["licenses"]) or "no license")
        need = ", attribution required" if m["attribution_required"] else ""
        model = ""
        if m.get("context_tokens"):
            model = f", {m['completion_tokens']} of {m['matched_tokens']} matched tokens written by the model"
        lines.append(
            f"{indent}  {m['verdict']}: {printable(m['repo'])} {printable(m['path'])} {_where(span)}, "
            f"{licenses} [{m['license_category']}{need}]{model}"
        )
        if m["url"]:
            lines.append(f"{indent}    {printable(m['url'])}")
    regenerated = (att or {}).get("regenerated")
    if regenerated:
        tries = regenerated["tries"]
        if regenerated["clean"]:
            lines.append(f"{indent}regenerated: try {tries} was clean; withheld tries:")
        else:
            lines.append(f"{indent}regenerated: all {tries} tries matched indexed code; withheld tries:")
        for w in regenerated["withheld"]:
            lines.append(f"{indent}  try {w['try']}:")
            lines.append(_summary(w["attribution"], indent + "    "))
    return "\n".join(lines)


@click.command("generate")
@click.argument("prompt", metavar="PROMPT")
@click.option("--suffix", default=None, help="Code after the gap: Fill-in-the-Middle (PROMPT is the prefix).")
@click.option(
    "--model",
    envvar="WHENCE_MODEL",
    default=None,
    metavar="ID_OR_PATH",
    help=f"Hub id or local folder of a StarCoder2 model (local backend). Default: {DEFAULT_MODEL}.",
)
@click.option(
    "--remote",
    envvar="WHENCE_REMOTE",
    default=None,
    metavar="URL",
    help="A TGI or OpenAI-compatible server (see --remote-protocol).",
)
@click.option(
    "--remote-protocol",
    type=click.Choice(["auto", "tgi", "openai"]),
    envvar="WHENCE_REMOTE_PROTOCOL",
    default="auto",
    show_default=True,
    help="How to talk to --remote: TGI's /generate_stream, OpenAI's /v1/completions, or auto (TGI when "
    "GET /info answers like TGI).",
)
@click.option(
    "--remote-model", default=None, metavar="NAME", help="Served model name (default: the server's)."
)
@click.option("--api-key", envvar="WHENCE_API_KEY", default=None, help="Bearer token for --remote.")
@click.option("--timeout", type=float, default=120.0, show_default=True, help="Seconds to wait for --remote.")
@click.option(
    "--retries", type=click.IntRange(0, 10), default=2, show_default=True, help="Retries for --remote."
)
@click.option("--device", default=None, help="cuda, cpu, cuda:1, … (default: the GPU if there is one).")
@click.option(
    "--dtype",
    type=click.Choice(["bfloat16", "float16", "float32"]),
    default=None,
    help="Weights' dtype (default: bfloat16 on GPU, float32 on CPU).",
)
@click.option("--quantize", type=click.Choice(["8bit", "4bit"]), default=None, help="Through bitsandbytes.")
@index_option
@_sampling_options
@click.option(
    "--policy",
    type=click.Choice(POLICIES),
    default="annotate",
    show_default=True,
    help="Only flag matches, withhold completions that match copyleft code / any code, or generate "
    "again those that match any code (regenerate).",
)
@click.option(
    "--regenerate-tries",
    type=click.IntRange(0, MAX_REGENERATE_TRIES),
    default=REGENERATE_TRIES,
    show_default=True,
    help="--policy regenerate: most tries after the first, each with another seed and a penalty on "
    "what the withheld ones copied.",
)
@click.option(
    "--context-chars",
    type=click.IntRange(0, MAX_CONTEXT_CHARS),
    default=CONTEXT_CHARS,
    show_default=True,
    help="Characters of the prompt's end (and of --suffix's beginning) searched with each completion; "
    "0: the completion alone.",
)
@click.option("--stream", is_flag=True, help="Print text as it is generated (JSON: one event per line).")
@format_option
def generate_cmd(
    prompt: str,
    suffix: str | None,
    model: str | None,
    remote: str | None,
    remote_protocol: str,
    remote_model: str | None,
    api_key: str | None,
    timeout: float,
    retries: int,
    device: str | None,
    dtype: str | None,
    quantize: str | None,
    target: str | None,
    stop: tuple[str, ...],
    policy: str,
    regenerate_tries: int,
    context_chars: int,
    stream: bool,
    fmt: str,
    **sampling: Any,
) -> None:
    """Complete PROMPT ("-" reads standard input) with StarCoder2 and attribute every completion.

    Each completion is searched in the index: text output names the files, lines and licenses it
    matches; JSON is {"choices": [{"text", "finish_reason", "attribution"}], "usage": {...}}.
    """
    from whence.generator.attribution import AttributedGenerator, Attributor
    from whence.generator.base import GenerationParams

    if model and remote:
        fail("--model and --remote: give one backend, not both")
    if prompt == "-":
        prompt = sys.stdin.read()
    with exit_2_on_error(_message):
        params = GenerationParams(stop=stop, **sampling)
    try:
        with open_index(target, readonly=True, message=_message) as store:
            attributor = Attributor(store, policy=policy, context_chars=context_chars)
            backend: Any
            if remote:
                from whence.generator.tgi import remote_backend

                backend = remote_backend(
                    remote,
                    protocol=remote_protocol,
                    model=remote_model,
                    api_key=api_key,
                    timeout=timeout,
                    retries=retries,
                )
            else:
                from whence.generator.local import LocalGenerator

                backend = LocalGenerator(
                    model or DEFAULT_MODEL, device=device, dtype=dtype, quantize=quantize
                )
            with AttributedGenerator(backend, attributor, regenerate_tries=regenerate_tries) as gen:
                if stream:
                    blocked = _run_stream(gen, prompt, params, suffix, fmt)
                else:
                    blocked = _run(gen, prompt, params, suffix, fmt)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    if blocked:
        sys.exit(1)


def _run(gen: Any, prompt: str, params: Any, suffix: str | None, fmt: str) -> bool:
    completion = gen.generate(prompt, params, suffix=suffix)
    if fmt == "json":
        click.echo(json.dumps(completion.as_dict(), indent=2))
    else:
        for choice in completion.choices:
            if len(completion.choices) > 1:
                click.echo(f"── choice {choice.index + 1} ──", err=True)
            if choice.finish_reason == "content_filter":
                click.echo(f"withheld by the policy ({gen.attributor.policy})", err=True)
            else:
                click.echo(choice.text)
            click.echo(_summary(choice.attribution), err=True)
        u = completion.usage
        click.echo(f"tokens: {u.prompt_tokens} prompt, {u.completion_tokens} completion", err=True)
    return any(c.finish_reason == "content_filter" for c in completion.choices)


def _run_stream(gen: Any, prompt: str, params: Any, suffix: str | None, fmt: str) -> bool:
    from whence.generator.base import Choice, Completion, StreamEvent, Usage

    texts: dict[int, list[str]] = {}
    choices: dict[int, Choice] = {}
    usage = Usage(0, 0)
    # Text mode shows one choice at a time: events of later choices wait until the earlier ones end.
    waiting: dict[int, list[StreamEvent]] = {}
    live = 0

    def show(ev: StreamEvent) -> None:
        if ev.kind == "text":
            click.echo(ev.text, nl=False)
            sys.stdout.flush()
        elif ev.kind == "attribution":
            click.echo(f"\n[choice {ev.index + 1}, while streaming] {_summary(ev.attribution)}", err=True)
        elif ev.kind == "finish":
            click.echo("")
            if ev.finish_reason == "content_filter":
                click.echo(
                    f"[choice {ev.index + 1}] withheld by the policy ({gen.attributor.policy})", err=True
                )
            click.echo(f"[choice {ev.index + 1}, final] {_summary(ev.attribution)}", err=True)

    for ev in gen.stream(prompt, params, suffix=suffix):
        if ev.kind == "text" and not ev.text:
            continue  # a token whose text is held back (a stop string may be starting) or still partial
        if ev.kind == "text":
            texts.setdefault(ev.index, []).append(ev.text)
        elif ev.kind == "finish":
            choices[ev.index] = Choice(
                ev.index, "".join(texts.get(ev.index, [])), ev.finish_reason, ev.tokens, ev.attribution
            )
        elif ev.kind == "usage" and ev.usage is not None:
            usage = ev.usage
        if fmt == "json":
            if ev.kind != "usage":
                click.echo(json.dumps(ev.as_dict()))
            continue
        if ev.kind == "usage":
            continue
        if ev.index != live:
            waiting.setdefault(ev.index, []).append(ev)
            continue
        show(ev)
        while ev.kind == "finish" and ev.index == live:
            live += 1
            for ev in waiting.pop(live, []):
                show(ev)
    completion = Completion([choices[i] for i in sorted(choices)], usage)
    if fmt == "json":
        click.echo(json.dumps(completion.as_dict()))
    else:
        click.echo(f"tokens: {usage.prompt_tokens} prompt, {usage.completion_tokens} completion", err=True)
    return any(c.finish_reason == "content_filter" for c in completion.choices)
