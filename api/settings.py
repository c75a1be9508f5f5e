"""Service settings: one ``pydantic-settings`` class, read from ``WHENCE_*`` environment variables (and a
``.env`` file), created once per app.  CLI flags of ``whence serve`` override them."""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from whence.generator.base import CONTEXT_CHARS, MAX_CONTEXT_CHARS, POLICIES
from whence.generator.regenerate import MAX_REGENERATE_TRIES, REGENERATE_TRIES


def data_dir() -> Path:
    """The per-user data folder (``~/.local/share/whence`` on Linux)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("whence", appauthor=False))


def usable_cpus(cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """CPUs this process may use: its affinity mask (``taskset``, a container's ``--cpuset-cpus``) where
    the platform tells, else the machine's count, capped by a cgroup v2 CPU quota (a container's
    ``--cpus``), rounded up."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    with contextlib.suppress(OSError, ValueError):  # no cgroup v2 quota here
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max":
            n = min(n, math.ceil(int(quota) / int(period)))
    return max(1, n)


class Settings(BaseSettings):
    """Every setting of the HTTP service (environment variable: ``WHENCE_`` + the name in capitals)."""

    model_config = SettingsConfigDict(env_prefix="WHENCE_", env_file=".env", extra="ignore")

    index: str = Field(
        default_factory=lambda: str(data_dir() / "index.sqlite"),
        description="The index: a SQLite file path or an http(s):// search-engine URL.",
    )
    state: str = Field(
        default_factory=lambda: str(data_dir() / "state.sqlite"),
        description="SQLite file with API keys (hashed) and usage.",
    )
    max_body_bytes: int = Field(
        default=2 * 1024 * 1024, ge=1024, description="Larger request bodies get 413."
    )
    rate_limit_per_minute: int = Field(default=600, ge=1, description="Requests per API key per minute.")
    rate_limit_burst: int = Field(
        default=60, ge=1, description="Requests a key may make at once before throttling."
    )
    price_per_million_tokens: float = Field(
        default=0.40, ge=0, description="Cost accounted per million tokens (USD)."
    )
    model: str | None = Field(
        default=None, description="Local StarCoder2 for completions: a hub id or a folder."
    )
    remote: str | None = Field(default=None, description="TGI or OpenAI-compatible server for completions.")
    remote_model: str | None = Field(default=None, description="Model name to ask the remote server for.")
    remote_protocol: str = Field(
        default="auto",
        pattern="^(auto|openai|tgi)$",
        description="How to talk to the remote server: `tgi` (Text Generation Inference's /generate), "
        "`openai` (/v1/completions), `auto` (TGI when its GET /info answers like TGI).",
    )
    remote_api_key: SecretStr | None = Field(
        default=None, description="Bearer token sent to the remote server (TGI or OpenAI-compatible)."
    )
    webhook_hosts: str = Field(
        default="",
        description="Hosts the hosted API's `webhook` may be delivered to, comma-separated: exact names or "
        "IP addresses (delivered whatever they resolve to), `*.example.com`, or `*` (any host whose "
        "addresses are all public). Empty: webhooks are refused.",
    )
    webhook_queue: int = Field(
        default=64, ge=1, le=10_000, description="Webhook jobs waiting at most; more get 503."
    )
    webhook_attempts: int = Field(
        default=5, ge=1, le=20, description="Tries to deliver one webhook (exponential back-off between)."
    )
    webhook_backoff: float = Field(
        default=1.0, ge=0, le=60, description="Seconds before the second try; doubled before each later one."
    )
    served_model_name: str = Field(
        default="bigcode/starcoder2-15b",
        min_length=1,
        max_length=256,
        pattern=r"^[\x21-\x7e]+$",
        description="The model's public name: the `model` of completions and of `/v1/models`, and the "
        "one `model` a completions request may name.",
    )
    policy: str = Field(
        default="annotate", pattern=f"^({'|'.join(POLICIES)})$", description="Attribution policy."
    )
    regenerate_tries: int = Field(
        default=REGENERATE_TRIES,
        ge=0,
        le=MAX_REGENERATE_TRIES,
        description="Policy regenerate: most tries after the first for a completion that matches "
        "indexed code.",
    )
    context_chars: int = Field(
        default=CONTEXT_CHARS,
        ge=0,
        le=MAX_CONTEXT_CHARS,
        description="Characters of the prompt's end (and of a suffix's beginning) searched with each "
        "completion; 0: the completion alone.",
    )
    search_processes: int = Field(
        default_factory=lambda: usable_cpus(),
        ge=0,
        le=256,
        description="Processes that run searches, shared by each server process's requests "
        "(default: one per CPU); 0 searches on the server process's own threads.",
    )
    search_top: int = Field(default=5, ge=1, le=100, description="Matches returned by default.")
    metrics_token: str | None = Field(
        default=None,
        min_length=16,
        description="Scrape token for /metrics ('Authorization: Bearer <token>'), for a Prometheus that "
        "holds no API key; an API key is accepted there too. Scrapes are never counted as usage.",
    )
