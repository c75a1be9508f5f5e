"""The ``regenerate`` policy's parts: another seed per try, and a penalty on what the withheld tries
copied.

When a completion would be withheld (as ``block-any`` withholds one), it is generated again -- up to
``regenerate_tries`` more times -- with another seed (:func:`next_seed`) and, where the backend can take
one, a penalty that forbids the matched token sequences (:class:`SequencePenalty`, in the manner of
``bad_words_ids``): after any three tokens of a copied region, the token that followed them there
cannot be sampled again.  The first clean try is returned; the attributions of the withheld ones go
with it.

The extension point: a backend whose ``generate`` and ``stream`` take an ``extra_processors`` keyword
(a sequence of logits processors, each called as ``p(input_ids, scores)`` before the sampling
parameters' own) gets the penalty; :class:`whence.generator.local.LocalGenerator` does.  Other backends
(an OpenAI-compatible server) are retried with other seeds only, and under greedy decoding, where a
seed changes nothing, are not retried at all.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .base import SEED_MAX, SEED_MIN

if TYPE_CHECKING:
    import torch

#: ``--regenerate-tries``' default: tries after the first.
REGENERATE_TRIES = 3
#: The most tries after the first a request may ask for.
MAX_REGENERATE_TRIES = 10
#: Tokens of a copied region before the one forbidden after them.
PENALTY_PREFIX = 3
#: Keyword of the extension point (see the module's docstring).
HOOK = "extra_processors"

_SEEDS = SEED_MAX - SEED_MIN + 1
_GOLDEN = 0x9E3779B97F4A7C15  # spreads consecutive tries over the seed range


def next_seed(seed: int | None, choice: int, attempt: int) -> int | None:
    """The seed of try ``attempt`` (1 = the first retry) of choice ``choice``: None (a random one) when
    the request gave none, else a different seed derived from it, the same for the same request."""
    if seed is None:
        return None
    return (seed - SEED_MIN + (attempt * 2 + choice) * _GOLDEN) % _SEEDS + SEED_MIN


def takes_penalty(backend: Any) -> bool:
    """Whether ``backend`` offers the extension point (its ``stream`` takes ``extra_processors``)."""
    try:
        return HOOK in inspect.signature(backend.stream).parameters
    except (TypeError, ValueError):
        return False


def copied_texts(completion: str, attribution: dict[str, Any], prompt: str = "") -> list[str]:
    """The text of each attributing span of ``attribution``: its lines of the prompt (when it began
    there) followed by its lines of ``completion``."""
    from whence.index.search import ATTRIBUTING

    lines = completion.splitlines(keepends=True)
    prompt_lines = prompt.splitlines(keepends=True)
    out = []
    for m in attribution.get("matches", []):
        if m["verdict"] not in ATTRIBUTING:
            continue
        for s in m["spans"]:
            text = ""
            if s.get("prompt_lines"):
                p0, p1 = s["prompt_lines"]
                text = "".join(prompt_lines[p0 - 1 : p1])
            if s.get("query_lines"):
                q0, q1 = s["query_lines"]
                text += "".join(lines[q0 - 1 : q1])
            if text.strip():
                out.append(text)
    return out


class SequencePenalty:
    """A logits processor that forbids, after any :data:`PENALTY_PREFIX` tokens of a copied sequence,
    the token that followed them in it (``bad_words_ids``' rule, for every stretch of the sequences).

    Args:
        sequences: the copied regions as token ids.
        prefix: tokens that must match before the next one is forbidden.
    """

    def __init__(self, sequences: Iterable[list[int]], prefix: int = PENALTY_PREFIX) -> None:
        self.prefix = prefix
        self.banned: dict[tuple[int, ...], set[int]] = {}
        for seq in sequences:
            for i in range(prefix, len(seq)):
                self.banned.setdefault(tuple(seq[i - prefix : i]), set()).add(seq[i])

    def __len__(self) -> int:
        return sum(len(v) for v in self.banned.values())

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if input_ids.shape[1] < self.prefix or not self.banned:
            return scores
        tails = input_ids[:, -self.prefix :].tolist()
        for row, tail in enumerate(tails):
            banned = self.banned.get(tuple(tail))
            if banned:
                scores[row, sorted(banned)] = float("-inf")
        return scores


def penalty(backend: Any, texts: list[str]) -> dict[str, Any]:
    """The keyword arguments that put a :class:`SequencePenalty` on ``texts`` into ``backend``'s
    generation (none when it offers no extension point or has no tokenizer)."""
    tokenizer = getattr(backend, "tokenizer", None)
    if not texts or tokenizer is None or not takes_penalty(backend):
        return {}
    seqs = [list(tokenizer(t, add_special_tokens=False).input_ids) for t in texts]
    return {HOOK: [SequencePenalty(seqs)]}
