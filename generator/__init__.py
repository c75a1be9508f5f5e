"""StarCoder2 generation with attribution of every completion.

``GenerationParams`` (the hosted API's parameters, validated), two ``CodeGenerator`` backends --
``LocalGenerator`` (``local.py``, transformers) and ``RemoteGenerator`` (``remote.py``, an
OpenAI-compatible server) -- and ``AttributedGenerator`` (``attribution.py``), which searches each
completion in the index and applies a policy.  The backends import torch/transformers/httpx lazily.
"""

from __future__ import annotations

from typing import Any

from .base import (
    CONTEXT_TOKENS,
    Choice,
    CodeGenerator,
    Completion,
    GenerationParams,
    InvalidParameter,
    StreamEvent,
    Usage,
    fim_prompt,
)

__all__ = [
    "CONTEXT_TOKENS",
    "AttributedGenerator",
    "Attributor",
    "Choice",
    "CodeGenerator",
    "Completion",
    "GenerationParams",
    "InvalidParameter",
    "LocalGenerator",
    "RemoteGenerator",
    "StreamEvent",
    "Usage",
    "fim_prompt",
]


def __getattr__(name: str) -> Any:
    # The backends and the attributor are imported on first use: `import whence.generator` stays
    # cheap (the CLI's cold start never loads torch or httpx).
    if name == "LocalGenerator":
        from .local import LocalGenerator

        return LocalGenerator
    if name == "RemoteGenerator":
        from .remote import RemoteGenerator

        return RemoteGenerator
    if name in ("AttributedGenerator", "Attributor"):
        from . import attribution

        return getattr(attribution, name)
    raise AttributeError(f"module 'whence.generator' has no attribute {name!r}")
