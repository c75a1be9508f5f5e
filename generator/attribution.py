"""Attribution of every completion: each one goes through ``index.search`` and carries the result.

Each completion is searched together with the end of its prompt (and, for Fill-in-the-Middle, the
beginning of its suffix): ``context_chars`` characters of each (:mod:`.context`).  A model that
continues a function the prompt began is then attributed even when the completion alone holds less than
a minimum span of the copy, and each span says which part of it the model wrote (``query_lines`` and
``completion_tokens``) and which lies in the prompt (``prompt_lines``, ``prompt_tokens``) or the suffix.
A match wholly in the prompt or the suffix (or holding fewer than ``min_completion_tokens`` matched
tokens in the completion) is the user's code, not the completion's copy: it is left out and withholds
nothing.

Policies:

- ``annotate`` (default): completions are returned with their attribution, whatever it says.
- ``block-copyleft``: a completion matching code under a copyleft or weak-copyleft license (in any of
  the places that code was seen) is withheld: empty text, ``finish_reason`` ``content_filter``, and
  the attribution that explains why.
- ``block-any``: a completion matching any indexed code (``verbatim`` or ``near-duplicate``) is withheld.
- ``regenerate``: a completion that ``block-any`` would withhold is generated again, up to
  ``regenerate_tries`` more times, with another seed and a penalty on the copied token sequences
  (:mod:`.regenerate`); the first clean try is returned, its attribution carrying ``regenerated``: the
  tries made and the attribution of each withheld one.  When every try matches, the completion is
  withheld as ``block-any`` withholds it, and ``regenerated`` says so.

While streaming, the text is searched as it grows (every ``check_chars`` new characters, over a window
long enough to hold any new match) and an ``attribution`` event is sent as soon as a match is certain:
a span of at least ``min_tokens`` tokens is in the text, and more text cannot take it away.  The final
attribution, over the whole completion, comes with the choice's ``finish`` event.  Under a blocking
policy streamed text is released only once a check has found it clean, so what reaches the user before
a completion is withheld holds no attributable span (fewer than ``min_tokens`` tokens of the copy).
Under ``regenerate`` a streamed try that turns out to copy is not sent on: the next try continues from
the text already released (the prompt is the request's prompt and that text), so what was sent stays
the completion's beginning.
"""

from __future__ import annotations

import bisect
import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from whence.index import search as search_mod
from whence.index.licenses import Category, classify
from whence.index.stores.base import StoreReader

from . import regenerate as regen
from .base import (
    CONTEXT_CHARS,
    MAX_CONTEXT_CHARS,
    POLICIES,
    Choice,
    CodeGenerator,
    Completion,
    GenerationParams,
    InvalidParameter,
    StreamEvent,
    TokenLogprob,
    Usage,
)
from .context import MIN_COMPLETION_TOKENS, Parts, split_result

BLOCKED_CATEGORIES: frozenset[Category] = frozenset({"copyleft", "weak-copyleft"})
#: Characters of already-checked text searched again with the new text: enough for a match of
#: ``min_tokens`` tokens that starts before the new text (40 tokens of code are about 170 characters;
#: long identifiers and indentation stretch that, hence the margin).
CHECK_OVERLAP_CHARS = 2048
#: Matches searched for beyond ``top`` when a context is searched too: matches the prompt holds alone
#: are dropped afterwards, and must not crowd out the completion's.
CONTEXT_EXTRA_MATCHES = 5


class Attributor:
    """Searches completions in an index and applies a policy.

    Args:
        store: an open index (``whence.index.stores.open_store``).
        policy: ``annotate``, ``block-copyleft``, ``block-any`` or ``regenerate``.
        top: most matches per attribution.
        min_tokens: smallest span that attributes (as ``whence search --min-tokens``).
        context_chars: characters of the prompt's end (and of a suffix's beginning) searched with a
            completion; 0 searches the completion alone.
        min_completion_tokens: matched tokens a match must have in the completion itself.

    Raises:
        InvalidParameter: an unknown policy, or a context out of range.
    """

    def __init__(
        self,
        store: StoreReader,
        *,
        policy: str = "annotate",
        top: int = 5,
        min_tokens: int = search_mod.MIN_MATCH_TOKENS,
        context_chars: int = CONTEXT_CHARS,
        min_completion_tokens: int = MIN_COMPLETION_TOKENS,
    ) -> None:
        if policy not in POLICIES:
            raise InvalidParameter("policy", f"must be one of {', '.join(POLICIES)}, got {policy!r}")
        if isinstance(context_chars, bool) or not 0 <= context_chars <= MAX_CONTEXT_CHARS:
            raise InvalidParameter(
                "context_chars", f"must be in [0, {MAX_CONTEXT_CHARS}], got {context_chars}"
            )
        if isinstance(min_completion_tokens, bool) or min_completion_tokens < 1:
            raise InvalidParameter(
                "min_completion_tokens", f"must be at least 1, got {min_completion_tokens}"
            )
        self.store = store
        self.policy: str = policy
        self.top = top
        self.min_tokens = min_tokens
        self.context_chars = context_chars
        self.min_completion_tokens = min_completion_tokens
        self.documents = store.count_documents()
        self.seconds = 0.0  # time spent searching, for the benchmark
        self.searches = 0

    def attribute(
        self,
        text: str,
        language: str | None = None,
        *,
        prompt: str = "",
        suffix: str | None = None,
    ) -> dict[str, Any]:
        """The search result for ``text`` as a dict (the JSON contract of ``whence search``, each span
        split into its parts: see :func:`whence.generator.context.split_result`), searched with the end
        of ``prompt`` and the beginning of ``suffix`` around it, lexed as ``language`` when the caller
        knows it (else its language is guessed from the text)."""
        parts = Parts.of(text, prompt, suffix, self.context_chars)
        extra = CONTEXT_EXTRA_MATCHES if parts.before or parts.after else 0
        t0 = time.perf_counter()
        result = search_mod.search(
            self.store,
            parts.text,
            top=self.top + extra,
            min_tokens=self.min_tokens,
            documents=self.documents,
            language=language,
        )
        out = split_result(
            self.store, result, parts, top=self.top, min_completion_tokens=self.min_completion_tokens
        )
        self.seconds += time.perf_counter() - t0
        self.searches += 1
        return out

    def blocks(self, attribution: dict[str, Any]) -> bool:
        """Whether the policy withholds a completion with this attribution (``regenerate``: tries it
        again)."""
        if self.policy == "annotate" or attribution["verdict"] not in search_mod.ATTRIBUTING:
            return False
        if self.policy in ("block-any", "regenerate"):
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
            if s["query_lines"] is not None:
                s["query_lines"] = [s["query_lines"][0] + lines, s["query_lines"][1] + lines]
    return attribution


def _regenerated(tries: int, withheld: list[dict[str, Any]], clean: bool) -> dict[str, Any]:
    """The ``regenerated`` member of an attribution: tries made, whether the last was clean, and the
    attribution of each withheld try (their text is never returned)."""
    return {
        "tries": tries,
        "clean": clean,
        "withheld": [{"try": i + 1, "attribution": a} for i, a in enumerate(withheld)],
    }


@dataclass
class _ChoiceState:
    text: str = ""
    checked: int = 0  # characters of `text` searched so far
    released: int = 0  # characters of `text` sent to the caller
    verdict: str = "none"  # strongest verdict reported while streaming
    blocked: bool = False
    finished: bool = False
    #: regenerate: the length of `text` after each of the backend's text events (about a token each),
    #: the withheld tries' attributions and what they copied.
    ends: list[int] = field(default_factory=list)
    withheld: list[dict[str, Any]] = field(default_factory=list)
    copied: list[str] = field(default_factory=list)
    tokens: int = 0  # tokens of earlier tries kept as the completion's beginning
    held: list[StreamEvent] = field(default_factory=list)  # text events not yet sent (blocking policies)

    def release(self) -> list[StreamEvent]:
        """The held text events, now to be sent as they came (each with its token, if any)."""
        out, self.held = self.held, []
        self.released = len(self.text)
        return out


@dataclass
class _Request:
    prompt: str
    params: GenerationParams
    suffix: str | None
    usage: Usage


class AttributedGenerator:
    """A :class:`CodeGenerator` whose every completion carries an ``attribution``.

    Args:
        generator: the backend (local or remote).
        attributor: the index and the policy.
        check_chars: while streaming, search again after this many new characters.
        regenerate_tries: under the ``regenerate`` policy, the most tries after the first.
    """

    def __init__(
        self,
        generator: CodeGenerator,
        attributor: Attributor,
        *,
        check_chars: int = 256,
        regenerate_tries: int = regen.REGENERATE_TRIES,
    ) -> None:
        if isinstance(regenerate_tries, bool) or not 0 <= regenerate_tries <= regen.MAX_REGENERATE_TRIES:
            raise InvalidParameter(
                "regenerate_tries",
                f"must be in [0, {regen.MAX_REGENERATE_TRIES}], got {regenerate_tries}",
            )
        self.generator = generator
        self.attributor = attributor
        self.check_chars = max(1, check_chars)
        self.regenerate_tries = regenerate_tries
        self.name = generator.name

    def __enter__(self) -> AttributedGenerator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the backend."""
        self.generator.close()

    def _retries(self, params: GenerationParams) -> int:
        """Tries after the first that can give another text: none under greedy decoding without the
        penalty (the same text would come back)."""
        if params.greedy and not regen.takes_penalty(self.generator):
            return 0
        return self.regenerate_tries

    def _attribute(self, req: _Request, text: str) -> dict[str, Any]:
        return self.attributor.attribute(text, prompt=req.prompt, suffix=req.suffix)

    def generate(self, prompt: str, params: GenerationParams, *, suffix: str | None = None) -> Completion:
        """Generate, then attribute each choice; withheld choices lose their text, and under
        ``regenerate`` are generated again first (see the policies)."""
        completion = self.generator.generate(prompt, params, suffix=suffix)
        req = _Request(prompt, params, suffix, completion.usage)
        for choice in completion.choices:
            att = choice.attribution = self._attribute(req, choice.text)
            if not self.attributor.blocks(att):
                continue
            if self.attributor.policy == "regenerate":
                self._regenerate(req, choice, att)
            else:
                choice.text = ""
                choice.finish_reason = "content_filter"
                choice.logprobs = [] if choice.logprobs is not None else None
        return completion

    def _regenerate(self, req: _Request, choice: Choice, first: dict[str, Any]) -> None:
        """Generate ``choice`` (attributed ``first``) again until a try is clean or the tries are
        spent."""
        withheld = [first]
        copied = regen.copied_texts(choice.text, first, req.prompt)
        for attempt in range(1, self._retries(req.params) + 1):
            params = dataclasses.replace(
                req.params, num_responses=1, seed=regen.next_seed(req.params.seed, choice.index, attempt)
            )
            out = self.generator.generate(
                req.prompt, params, suffix=req.suffix, **regen.penalty(self.generator, copied)
            )
            req.usage.prompt_tokens += out.usage.prompt_tokens
            req.usage.completion_tokens += out.usage.completion_tokens
            again = out.choices[0]
            att = self._attribute(req, again.text)
            if not self.attributor.blocks(att):
                choice.text, choice.finish_reason = again.text, again.finish_reason
                choice.tokens, choice.logprobs = again.tokens, again.logprobs
                choice.attribution = att | {"regenerated": _regenerated(attempt + 1, withheld, True)}
                return
            withheld.append(att)
            copied += regen.copied_texts(again.text, att, req.prompt)
        choice.text = ""
        choice.finish_reason = "content_filter"
        choice.logprobs = [] if choice.logprobs is not None else None
        choice.attribution = first | {"regenerated": _regenerated(len(withheld), withheld, False)}

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
        holding = self.attributor.policy != "annotate"
        regenerating = self.attributor.policy == "regenerate"
        req = _Request(prompt, params, suffix, Usage(0, 0))
        events = self.generator.stream(prompt, params, suffix=suffix)
        try:
            for ev in events:
                if ev.kind == "usage" and regenerating:
                    self._add_usage(req, ev)  # sent once the retries are done, with theirs
                    continue
                if ev.kind == "usage" or ev.index >= len(states):
                    yield ev
                    continue
                yield from self._event(req, ev, ev.index, states[ev.index], holding)
        finally:
            if hasattr(events, "close"):
                events.close()
        if regenerating:
            for i, st in enumerate(states):
                if st.blocked:
                    yield from self._restream(req, i, st)
            yield StreamEvent("usage", usage=req.usage)

    @staticmethod
    def _add_usage(req: _Request, ev: StreamEvent) -> None:
        if ev.usage is not None:
            req.usage.prompt_tokens += ev.usage.prompt_tokens
            req.usage.completion_tokens += ev.usage.completion_tokens

    def _event(
        self, req: _Request, ev: StreamEvent, index: int, st: _ChoiceState, holding: bool
    ) -> Iterator[StreamEvent]:
        """One backend event of choice ``index`` (under regenerate, of its current try)."""
        regenerating = self.attributor.policy == "regenerate"
        if ev.kind == "text":
            if regenerating and st.blocked:
                return  # the rest of a withheld try
            st.text += ev.text
            st.ends.append(len(st.text))
            if not holding:
                st.released = len(st.text)
                yield dataclasses.replace(ev, index=index)
            elif not st.blocked:
                st.held.append(dataclasses.replace(ev, index=index))
            if len(st.text) - st.checked >= self.check_chars:
                yield from self._check(req, index, st, holding)
        elif ev.kind == "finish":
            st.finished = True
            if regenerating and st.blocked:
                return  # tried again once the first tries are done
            yield from self._finish(req, dataclasses.replace(ev, index=index), st, holding)

    def _restream(self, req: _Request, index: int, st: _ChoiceState) -> Iterator[StreamEvent]:
        """Regenerate choice ``index`` while streaming: each try continues from the text already
        released, with another seed and the penalty; the first clean try finishes the choice."""
        first = st.withheld[0]
        spent = False
        for attempt in range(1, self._retries(req.params) + 1):
            released = st.text[: st.released]
            used = bisect.bisect_right(st.ends, st.released)
            left = req.params.max_new_tokens - used
            st.text, st.checked, st.blocked, st.verdict = released, st.released, False, "none"
            st.ends, st.tokens = st.ends[:used], used
            if left < 1:  # the clean text already sent is all the budget allows
                spent = True
                break
            params = dataclasses.replace(
                req.params,
                num_responses=1,
                max_new_tokens=left,
                seed=regen.next_seed(req.params.seed, index, attempt),
            )
            events = self.generator.stream(
                req.prompt + released, params, suffix=req.suffix, **regen.penalty(self.generator, st.copied)
            )
            try:
                for ev in events:
                    if ev.kind == "usage":
                        self._add_usage(req, ev)
                    elif ev.index == 0:
                        yield from self._event(req, ev, index, st, True)
            finally:
                if hasattr(events, "close"):
                    events.close()
            if not st.blocked:
                return  # the clean try's finish event is sent
        if spent:  # the released (checked, clean) text is the completion
            final = self._attribute(req, st.text)
            regenerated = _regenerated(len(st.withheld) + 1, st.withheld, True)
            yield StreamEvent(
                "finish",
                index,
                finish_reason="length",
                attribution=final | {"regenerated": regenerated},
                tokens=st.tokens,
            )
            return
        regenerated = _regenerated(len(st.withheld), st.withheld, False)
        yield StreamEvent(
            "finish",
            index,
            finish_reason="content_filter",
            attribution=first | {"regenerated": regenerated},
            tokens=st.tokens,
        )

    def _block(self, req: _Request, st: _ChoiceState, att: dict[str, Any]) -> None:
        st.blocked = True
        st.held = []  # never sent
        if self.attributor.policy == "regenerate":
            st.withheld.append(att)
            st.copied += regen.copied_texts(st.text, att, req.prompt)

    def _check(self, req: _Request, index: int, st: _ChoiceState, holding: bool) -> Iterator[StreamEvent]:
        if st.blocked:
            return
        start = max(0, st.checked - CHECK_OVERLAP_CHARS)
        # Start the window at a line start, so its line numbers are those of the completion; the first
        # window is searched after the prompt's end.
        if start:
            start = st.text.rfind("\n", 0, start) + 1
        window = st.text[start:]
        att = self.attributor.attribute(window, prompt=req.prompt if not start else "")
        att = _shift_lines(att, st.text.count("\n", 0, start))
        st.checked = len(st.text)
        verdicts = search_mod.VERDICTS
        if verdicts.index(att["verdict"]) > verdicts.index(st.verdict):
            st.verdict = att["verdict"]
            yield StreamEvent("attribution", index, attribution=att)
        if self.attributor.blocks(att):
            self._block(req, st, att)
        elif holding:
            # Checks run after whole events, so what was checked is exactly the held events' text.
            yield from st.release()

    def _finish(
        self, req: _Request, ev: StreamEvent, st: _ChoiceState, holding: bool
    ) -> Iterator[StreamEvent]:
        final = self._attribute(req, st.text)
        if self.attributor.blocks(final) and not st.blocked:
            self._block(req, st, final)
        if st.blocked:
            if self.attributor.policy == "regenerate":
                return  # tried again (stream: once the first tries are done)
            yield StreamEvent(
                "finish", ev.index, finish_reason="content_filter", attribution=final, tokens=ev.tokens
            )
            return
        if holding:
            yield from st.release()
        if st.withheld:
            final = final | {"regenerated": _regenerated(len(st.withheld) + 1, st.withheld, True)}
        reason, tokens = ev.finish_reason, st.tokens + ev.tokens
        yield StreamEvent("finish", ev.index, finish_reason=reason, attribution=final, tokens=tokens)
