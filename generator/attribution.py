"""Attribution of every completion: each one goes through ``index.search`` and carries the result.

Policies:

- ``annotate`` (default): completions are returned with their attribution, whatever it says.
- ``block-copyleft``: a completion matching code under a copyleft or weak-copyleft license (in any of
  the places that code was seen) is withheld: empty text, ``finish_reason`` ``content_filter``, and
  the attribution that explains why.
- ``block-any``: a completion matching any indexed code (``verbatim`` or ``near-duplicate``) is withheld.

While streaming, the text is searched as it grows (every ``check_chars`` new characters, over a window
long enough to hold any new match) and an ``attribution`` event is sent as soon as a match is certain:
a span of at least ``min_tokens`` tokens is in the text, and more text cannot take it away.  The final
attribution, over the whole completion, comes with the choice's ``finish`` event.  Under a blocking
policy streamed text is released only once a check has found it clean, so what reaches the user before
a completion is withheld holds no attributable span (fewer than ``min_tokens`` tokens of the copy).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from whence.index import search as search_mod
from whence.index.licenses import Category, classify
from whence.index.stores.base import StoreReader

from .base import (
    POLICIES,
    CodeGenerator,
    Completion,
    GenerationParams,
    InvalidParameter,
    StreamEvent,
    TokenLogprob,
)

BLOCKED_CATEGORIES: frozenset[Category] = frozenset({"copyleft", "weak-copyleft"})
#: Characters of already-checked text searched again with the new text: enough for a match of
#: ``min_tokens`` tokens that starts before the new text (40 tokens of code are about 170 characters;
#: long identifiers and indentation stretch that, hence the margin).
CHECK_OVERLAP_CHARS = 2048


class Attributor:
    """Searches completions in an index and applies a policy.

    Args:
        store: an open index (``whence.index.stores.open_store``).
        policy: ``annotate``, ``block-copyleft`` or ``block-any``.
        top: most matches per attribution.
        min_tokens: smallest span that attributes (as ``whence search --min-tokens``).

    Raises:
        InvalidParameter: an unknown policy.
    """

    def __init__(
        self,
        store: StoreReader,
        *,
        policy: str = "annotate",
        top: int = 5,
        min_tokens: int = search_mod.MIN_MATCH_TOKENS,
    ) -> None:
        if policy not in POLICIES:
            raise InvalidParameter("policy", f"must be one of {', '.join(POLICIES)}, got {policy!r}")
        self.store = store
        self.policy: str = policy
        self.top = top
        self.min_tokens = min_tokens
        self.documents = store.count_documents()
        self.seconds = 0.0  # time spent searching, for the benchmark
        self.searches = 0

    def attribute(self, text: str, language: str | None = None) -> dict[str, Any]:
        """The search result for ``text`` as a dict (the JSON contract of ``whence search``), lexed as
        ``language`` when the caller knows it (else its language is guessed from the text)."""
        t0 = time.perf_counter()
        result = search_mod.search(
            self.store,
            text,
            top=self.top,
            min_tokens=self.min_tokens,
            documents=self.documents,
            language=language,
        )
        self.seconds += time.perf_counter() - t0
        self.searches += 1
        return result.as_dict()

    def blocks(self, attribution: dict[str, Any]) -> bool:
        """Whether the policy withholds a completion with this attribution."""
        if self.policy == "annotate" or attribution["verdict"] not in search_mod.ATTRIBUTING:
            return False
        if self.policy == "block-any":
            return True
        for m in attribution["matches"]:
            if m["verdict"] not in search_mod.ATTRIBUTING:
                continue  # weak evidence is shown, never acted on
            if m["license_category"] in BLOCKED_CATEGORIES:
                return True
            for occ in m.get("occurrences", []):
                if classify(occ["licenses"]).category in BLOCKED_CATEGORIES:
                    return True
        return False


def _shift_lines(attribution: dict[str, Any], lines: int) -> dict[str, Any]:
    """An attribution of a window, with query lines counted from the completion's first line."""
    for m in attribution["matches"]:
        for s in m["spans"]:
            s["query_lines"] = [s["query_lines"][0] + lines, s["query_lines"][1] + lines]
    return attribution


@dataclass
class _ChoiceState:
    text: str = ""
    checked: int = 0  # characters of `text` searched so far
    released: int = 0  # characters of `text` sent to the caller
    verdict: str = "none"  # strongest verdict reported while streaming
    blocked: bool = False
    held: list[StreamEvent] = field(default_factory=list)  # text events not yet sent (blocking policies)

    def release(self) -> list[StreamEvent]:
        """The held text events, now to be sent as they came (each with its token, if any)."""
        out, self.held = self.held, []
        self.released = len(self.text)
        return out


class AttributedGenerator:
    """A :class:`CodeGenerator` whose every completion carries an ``attribution``.

    Args:
        generator: the backend (local or remote).
        attributor: the index and the policy.
        check_chars: while streaming, search again after this many new characters.
    """

    def __init__(self, generator: CodeGenerator, attributor: Attributor, *, check_chars: int = 256) -> None:
        self.generator = generator
        self.attributor = attributor
        self.check_chars = max(1, check_chars)
        self.name = generator.name

    def __enter__(self) -> AttributedGenerator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the backend."""
        self.generator.close()

    def generate(self, prompt: str, params: GenerationParams, *, suffix: str | None = None) -> Completion:
        """Generate, then attribute each choice; withheld choices lose their text (see the policies)."""
        completion = self.generator.generate(prompt, params, suffix=suffix)
        for choice in completion.choices:
            choice.attribution = self.attributor.attribute(choice.text)
            if self.attributor.blocks(choice.attribution):
                choice.text = ""
                choice.finish_reason = "content_filter"
                choice.logprobs = [] if choice.logprobs is not None else None
        return completion

    def prompt_logprobs(self, prompt: str, top: int = 0) -> list[TokenLogprob]:
        """The backend's log-probabilities of the prompt's tokens (for ``echo``; nothing to attribute).

        Raises:
            InvalidParameter: a backend that cannot score a prompt.
        """
        score = getattr(self.generator, "prompt_logprobs", None)
        if score is None:
            backend = type(self.generator).__name__
            raise InvalidParameter("echo", f"the {backend} backend cannot score a prompt's tokens")
        result: list[TokenLogprob] = score(prompt, top)
        return result

    def stream(
        self, prompt: str, params: GenerationParams, *, suffix: str | None = None
    ) -> Iterator[StreamEvent]:
        """The backend's events with attribution: ``attribution`` events as soon as a match is
        certain, and the final attribution on each ``finish`` event."""
        states = [_ChoiceState() for _ in range(params.num_responses)]
        events = self.generator.stream(prompt, params, suffix=suffix)
        holding = self.attributor.policy != "annotate"
        try:
            for ev in events:
                if ev.kind == "usage" or ev.index >= len(states):
                    yield ev
                    continue
                st = states[ev.index]
                if ev.kind == "text":
                    st.text += ev.text
                    if not holding:
                        st.released = len(st.text)
                        yield ev
                    elif not st.blocked:
                        st.held.append(ev)
                    if len(st.text) - st.checked >= self.check_chars:
                        yield from self._check(ev.index, st, holding)
                elif ev.kind == "finish":
                    yield from self._finish(ev, st, holding)
        finally:
            if hasattr(events, "close"):
                events.close()

    def _check(self, index: int, st: _ChoiceState, holding: bool) -> Iterator[StreamEvent]:
        if st.blocked:
            return
        start = max(0, st.checked - CHECK_OVERLAP_CHARS)
        # Start the window at a line start, so its line numbers are those of the completion.
        if start:
            start = st.text.rfind("\n", 0, start) + 1
        att = _shift_lines(self.attributor.attribute(st.text[start:]), st.text.count("\n", 0, start))
        st.checked = len(st.text)
        verdicts = search_mod.VERDICTS
        if verdicts.index(att["verdict"]) > verdicts.index(st.verdict):
            st.verdict = att["verdict"]
            yield StreamEvent("attribution", index, attribution=att)
        if self.attributor.blocks(att):
            st.blocked = True
            st.held = []
        elif holding:
            # Checks run after whole events, so what was checked is exactly the held events' text.
            yield from st.release()

    def _finish(self, ev: StreamEvent, st: _ChoiceState, holding: bool) -> Iterator[StreamEvent]:
        final = self.attributor.attribute(st.text)
        if self.attributor.blocks(final):
            st.blocked = True
        if st.blocked:
            yield StreamEvent(
                "finish", ev.index, finish_reason="content_filter", attribution=final, tokens=ev.tokens
            )
            return
        if holding:
            yield from st.release()
        yield StreamEvent(
            "finish", ev.index, finish_reason=ev.finish_reason, attribution=final, tokens=ev.tokens
        )
