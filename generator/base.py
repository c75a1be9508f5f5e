"""The generator interface: parameters, completions, stream events and the ``CodeGenerator`` protocol.

Parameters follow the hosted StarCoder2 API (names, ranges, defaults); every range is checked when a
:class:`GenerationParams` is made, and a bad value raises :class:`InvalidInput` naming the parameter.
Backends (``local.py``: transformers; ``remote.py``: an OpenAI-compatible server) only generate;
attribution wraps any of them (``attribution.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, get_args, runtime_checkable

from whence.errors import InvalidInput

#: StarCoder2's context: prompt tokens + new tokens must fit in it.
CONTEXT_TOKENS = 16_384
#: Below this temperature, sampling is greedy.  softmax(logits / T) leaves less than e^-100 of the mass
#: off the most likely token once T < 1e-5 and the logits differ by 1e-3, and dividing float32 logits by
#: a far smaller T overflows to inf (a request with temperature 5e-324 made every probability NaN).
MIN_SAMPLING_TEMPERATURE = 1e-5
#: Seeds torch's generators take: a 64-bit integer, signed or not.
SEED_MIN = -(2**63)
SEED_MAX = 2**64 - 1
MAX_STOP_STRINGS = 16
#: ``logit_bias``: at most this many tokens, each biased by a value in [-LOGIT_BIAS_MAX, LOGIT_BIAS_MAX]
#: (OpenAI's limits).
MAX_LOGIT_BIAS_TOKENS = 300
LOGIT_BIAS_MAX = 100.0

FIM_PREFIX = "<fim_prefix>"
FIM_SUFFIX = "<fim_suffix>"
FIM_MIDDLE = "<fim_middle>"

#: Attribution policies (``whence.generator.attribution``): only annotate completions, withhold those
#: that match copyleft code / any code, or generate again those that match any code.  The one list of
#: their names: the CLI's ``--policy`` and the service's setting are made from it.
Policy = Literal["annotate", "block-copyleft", "block-any", "regenerate"]
POLICIES: tuple[Policy, ...] = get_args(Policy)

#: Characters of the prompt's end (and of a Fill-in-the-Middle suffix's beginning) searched with a
#: completion (``whence.generator.context``): about what Copilot's duplication filter matches with a
#: suggestion.  ``MAX_CONTEXT_CHARS`` is the most a caller may ask for.
CONTEXT_CHARS = 150
MAX_CONTEXT_CHARS = 4096

#: Why a choice ended: a stop string or the end-of-text token (``stop``), ``max_new_tokens``
#: (``length``), or the attribution policy withheld it (``content_filter``, OpenAI's name for it).
FinishReason = Literal["stop", "length", "content_filter"]


class InvalidParameter(InvalidInput):
    """A generation parameter out of its range; ``param`` is its name (as in the hosted API)."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param


def _check_range(name: str, value: float, lo: float, hi: float, *, lo_open: bool = False) -> None:
    # isnan only for floats: an int too large for a float (a seed of 10**400) would raise OverflowError.
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (isinstance(value, float) and math.isnan(value))
    ):
        raise InvalidParameter(name, f"must be a number, got {value!r}")
    if value > hi or value < lo or (lo_open and value == lo):
        low = f"({lo}" if lo_open else f"[{lo}"
        raise InvalidParameter(name, f"must be in {low}, {hi}], got {value}")


@dataclass(frozen=True)
class ParamSpec:
    """One numeric sampling parameter: the one place its type, default and range are written.

    :class:`GenerationParams` checks values against it; the HTTP service's request fields
    (``whence.api.routes.completions``) and ``whence generate``'s options (``whence.cli.generate``) are
    made from it.  ``help`` is the CLI's option help, ``{range}`` in it replaced by :attr:`range_text`;
    ``description`` the HTTP field's (None: none).  A parameter whose ``default`` is None may be left
    unset.
    """

    name: str
    type: type[int] | type[float]
    default: int | float | None
    min: int | float
    max: int | float
    help: str
    description: str | None = None
    #: The range excludes ``min``: (min, max].
    lo_open: bool = False

    @property
    def option(self) -> str:
        """The CLI option: ``--top-p`` for ``top_p``."""
        return "--" + self.name.replace("_", "-")

    @property
    def range_text(self) -> str:
        """The range as the CLI's help writes it: ``0-100``, ``(0, 1]``, ``-2 to 2``."""
        if self.lo_open:
            return f"({self.min}, {self.max}]"
        return f"{self.min} to {self.max}" if self.min < 0 else f"{self.min}-{self.max}"

    def check(self, value: Any) -> None:
        """Raise :class:`InvalidParameter` (naming the parameter) unless ``value`` fits."""
        if value is None and self.default is None:
            return
        if self.type is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidParameter(self.name, f"must be an integer, got {value!r}")
        _check_range(self.name, value, self.min, self.max, lo_open=self.lo_open)


_SEED_DESCRIPTION = "Makes sampling reproducible (a 64-bit integer)."
#: The numeric sampling parameters, in the hosted StarCoder2 API's names, ranges and defaults (``stop``,
#: a list of strings, is checked on its own: at most :data:`MAX_STOP_STRINGS` non-empty strings).
SAMPLING_PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec("max_new_tokens", int, 512, 1, 100_000, "{range}, within the context."),
    ParamSpec("temperature", float, 0.7, 0, 100, "{range}; 0 = greedy.", "0 = greedy."),
    ParamSpec("top_p", float, 0.9, 0, 1, "{range}.", lo_open=True),
    ParamSpec("top_k", int, 0, 0, 99_999, "{range}; 0 = off.", "0 = off."),
    ParamSpec("repetition_penalty", float, 1.0, 0.01, 5, "{range}."),
    ParamSpec("presence_penalty", float, 0.0, -2, 2, "{range}."),
    ParamSpec("frequency_penalty", float, 0.0, -2, 2, "{range}."),
    ParamSpec("num_responses", int, 1, 1, 2, "{range} completions."),
    ParamSpec("seed", int, None, SEED_MIN, SEED_MAX, "Makes sampling reproducible.", _SEED_DESCRIPTION),
)
#: The same, by name.
SAMPLING: dict[str, ParamSpec] = {p.name: p for p in SAMPLING_PARAMS}
#: OpenAI's completions parameters the hosted API does not have (``logit_bias``, a map of token ids to
#: biases, is checked on its own): log-probabilities of the most likely alternatives per token, and
#: ``best_of`` completions sampled to return the ``num_responses`` most likely.
LOGPROBS = ParamSpec(
    "logprobs", int, None, 0, 5, "{range} alternatives per token.",
    "Log-probabilities of each token and of up to this many most likely alternatives.",
)  # fmt: skip
BEST_OF = ParamSpec(
    "best_of", int, None, 1, 8, "{range} completions sampled.",
    "Sample this many completions and return the `n` with the highest mean token log-probability "
    "(not with `stream`).",
)  # fmt: skip


def _default(name: str) -> Any:
    return SAMPLING[name].default


@dataclass(frozen=True)
class GenerationParams:
    """Sampling parameters; their ranges and defaults are :data:`SAMPLING_PARAMS`, the hosted StarCoder2
    API's.

    Args:
        max_new_tokens: new tokens (prompt tokens + these must also fit the 16,384-token context).
        temperature: 0 is greedy (deterministic).
        top_p: nucleus sampling, 1 = off.
        top_k: 0 = off.
        repetition_penalty: 1 = off (CTRL-style, over prompt and output tokens).
        presence_penalty: subtracted once from the logit of every token already generated.
        frequency_penalty: subtracted per occurrence of a token already generated.
        stop: up to :data:`MAX_STOP_STRINGS` non-empty strings; the output is cut before the first one.
        num_responses: completions of the same prompt.
        seed: makes sampling reproducible (greedy needs none).
        logprobs: report each new token's log-probability and those of up to this many most likely
            alternatives (None: none are reported; 0: the token's own only).
        logit_bias: token id -> a bias in [-100, 100] added to its logit before sampling (-100 in
            effect bans a token, 100 forces it); at most :data:`MAX_LOGIT_BIAS_TOKENS` tokens.
        best_of: sample this many completions and keep the ``num_responses`` with the highest mean
            token log-probability (None: ``num_responses``); not with streaming.

    Raises:
        InvalidParameter: a value out of range (the message names the parameter).
    """

    max_new_tokens: int = _default("max_new_tokens")
    temperature: float = _default("temperature")
    top_p: float = _default("top_p")
    top_k: int = _default("top_k")
    repetition_penalty: float = _default("repetition_penalty")
    presence_penalty: float = _default("presence_penalty")
    frequency_penalty: float = _default("frequency_penalty")
    stop: tuple[str, ...] = ()
    num_responses: int = _default("num_responses")
    seed: int | None = _default("seed")
    logprobs: int | None = None
    logit_bias: tuple[tuple[int, float], ...] = ()
    best_of: int | None = None

    def __post_init__(self) -> None:
        for spec in (*SAMPLING_PARAMS, LOGPROBS, BEST_OF):
            spec.check(getattr(self, spec.name))
        if self.best_of is not None and self.best_of < self.num_responses:
            raise InvalidParameter(
                "best_of", f"must be at least n ({self.num_responses}), got {self.best_of}"
            )
        object.__setattr__(self, "logit_bias", check_logit_bias(self.logit_bias))
        if isinstance(self.stop, str):
            # A bare string would be read as one stop string per character.
            object.__setattr__(self, "stop", (self.stop,))
        object.__setattr__(self, "stop", tuple(self.stop))
        if len(self.stop) > MAX_STOP_STRINGS:
            raise InvalidParameter("stop", f"at most {MAX_STOP_STRINGS} strings, got {len(self.stop)}")
        for s in self.stop:
            if not isinstance(s, str) or not s:
                raise InvalidParameter("stop", f"stop strings must be non-empty strings, got {s!r}")

    @property
    def greedy(self) -> bool:
        """Always the most likely token: temperature 0, or below :data:`MIN_SAMPLING_TEMPERATURE`."""
        return self.temperature < MIN_SAMPLING_TEMPERATURE


def check_logit_bias(bias: Any) -> tuple[tuple[int, float], ...]:
    """``bias`` (a mapping or pairs of token id -> bias; OpenAI sends the ids as strings) as sorted
    ``(id, bias)`` pairs.

    Raises:
        InvalidParameter: not a mapping of non-negative integer ids to numbers in [-100, 100], or more
            than :data:`MAX_LOGIT_BIAS_TOKENS` of them.
    """
    try:
        items = list(bias.items()) if isinstance(bias, dict) else list(bias)
    except TypeError:
        raise InvalidParameter("logit_bias", f"must map token ids to biases, got {bias!r}") from None
    if len(items) > MAX_LOGIT_BIAS_TOKENS:
        raise InvalidParameter("logit_bias", f"at most {MAX_LOGIT_BIAS_TOKENS} tokens, got {len(items)}")
    out: dict[int, float] = {}
    for item in items:
        if not isinstance(item, tuple) or len(item) != 2:
            raise InvalidParameter("logit_bias", f"must map token ids to biases, got {item!r}")
        key, value = item
        if isinstance(key, str) and key.isascii() and key.isdigit() and len(key) <= 12:
            key = int(key)
        if isinstance(key, bool) or not isinstance(key, int) or key < 0:
            raise InvalidParameter("logit_bias", f"keys must be token ids (integers >= 0), got {key!r}")
        try:
            _check_range("logit_bias", value, -LOGIT_BIAS_MAX, LOGIT_BIAS_MAX)
        except InvalidParameter as exc:
            raise InvalidParameter(
                "logit_bias", f"the bias of token {key} {exc.args[0].split(': ', 1)[1]}"
            ) from None
        out[key] = float(value)
    return tuple(sorted(out.items()))


def check_context(prompt_tokens: int, max_new_tokens: int, context: int = CONTEXT_TOKENS) -> None:
    """Raise :class:`InvalidParameter` unless prompt and new tokens fit the context."""
    if prompt_tokens + max_new_tokens > context:
        raise InvalidParameter(
            "max_new_tokens",
            f"the prompt is {prompt_tokens} tokens and {max_new_tokens} new tokens were asked for: "
            f"{prompt_tokens + max_new_tokens} exceeds the {context}-token context "
            f"(ask for at most {max(0, context - prompt_tokens)} or shorten the prompt)",
        )


def fim_prompt(prefix: str, suffix: str) -> str:
    """StarCoder2's Fill-in-the-Middle prompt (prefix-suffix-middle): the model writes the middle."""
    return f"{FIM_PREFIX}{prefix}{FIM_SUFFIX}{suffix}{FIM_MIDDLE}"


def cut_at_stop(text: str, stop: Sequence[str], start: int = 0) -> int | None:
    """Index of the earliest stop string in ``text`` (searching from ``start``), or None."""
    best: int | None = None
    for s in stop:
        i = text.find(s, start)
        if i >= 0 and (best is None or i < best):
            best = i
    return best


@dataclass
class Usage:
    """Token counts of one request (completion tokens summed over the choices, as OpenAI counts)."""

    prompt_tokens: int
    completion_tokens: int

    def as_dict(self) -> dict[str, int]:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}


@dataclass
class TokenLogprob:
    """One token of a text with its log-probability: an entry of OpenAI's ``logprobs`` object.

    ``text`` is what the token adds to the text (so a choice's tokens' texts join into its text; of the
    tokens that together spell one character split across them, the last carries the character and the
    others add ""), ``logprob`` its log-probability (None for a prompt's first token, which nothing
    precedes), ``top`` the most likely alternatives at its position (token text -> log-probability) when
    asked for, ``token_id`` its id when the backend knows it.
    """

    text: str
    logprob: float | None
    top: dict[str, float] | None = None
    token_id: int | None = None


@dataclass
class Choice:
    """One completion: its text, why it ended, and (once attributed) its attribution.  ``logprobs``: its
    tokens with their log-probabilities when ``GenerationParams.logprobs`` asked for them (their texts
    join into ``text``, or into more when a stop string cut a token)."""

    index: int
    text: str
    finish_reason: FinishReason
    tokens: int = 0
    attribution: dict[str, Any] | None = None
    logprobs: list[TokenLogprob] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "finish_reason": self.finish_reason, "attribution": self.attribution}


@dataclass
class Completion:
    """The answer to one request: ``num_responses`` choices and the token usage."""

    choices: list[Choice]
    usage: Usage
    model: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"choices": [c.as_dict() for c in self.choices], "usage": self.usage.as_dict()}


@dataclass
class StreamEvent:
    """One event of a streamed generation.

    ``kind`` is ``text`` (``text`` holds new text of choice ``index``), ``attribution`` (a match in
    choice ``index`` became certain while streaming: ``attribution`` holds it), ``finish`` (choice
    ``index`` ended: ``finish_reason`` and its final ``attribution``) or ``usage`` (last event).

    The local backend sends one ``text`` event per sampled token (the end-of-text token included, as a
    special one), with its ``token_id``, ``logprob`` and ``token``; such an event's ``text`` may be ""
    while a stop string might be starting or a character is split across tokens, and the text held back
    then comes with a later event.  Text events without a token (``token_id`` and ``logprob`` None) carry
    text alone: held-back text at the end, or a backend that does not report tokens.
    """

    kind: Literal["text", "attribution", "finish", "usage"]
    index: int = 0
    text: str = ""
    finish_reason: FinishReason | None = None
    attribution: dict[str, Any] | None = None
    usage: Usage | None = None
    tokens: int = 0
    #: For ``kind == "text"`` from a backend that reports tokens one by one: the token's id in the
    #: model's vocabulary, its log-probability under the sampling distribution, and whether it is a
    #: special token (None / False when the backend does not report them).
    token_id: int | None = None
    logprob: float | None = None
    special: bool = False
    #: With ``token_id`` or ``logprob`` set: what the token adds to the choice's text
    #: (:attr:`TokenLogprob.text`; ``text`` is what may be sent now, which a stop string being matched
    #: can hold back), and, when ``GenerationParams.logprobs`` asked for them, the most likely
    #: alternatives at its position (token text -> log-probability).
    token: str | None = None
    top_logprobs: dict[str, float] | None = None

    def token_logprob(self) -> TokenLogprob | None:
        """This event's token as a :class:`TokenLogprob` (None when it carries none, or a special one)."""
        if self.kind != "text" or self.special or (self.token_id is None and self.logprob is None):
            return None
        return TokenLogprob(self.token or "", self.logprob, self.top_logprobs, self.token_id)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"event": self.kind, "index": self.index}
        if self.kind == "text":
            out["text"] = self.text
        if self.kind in ("attribution", "finish"):
            out["attribution"] = self.attribution
        if self.kind == "finish":
            out["finish_reason"] = self.finish_reason
        if self.kind == "usage" and self.usage is not None:
            out = {"event": "usage", "usage": self.usage.as_dict()}
        return out


@runtime_checkable
class CodeGenerator(Protocol):
    """A StarCoder2 backend.  ``generate`` returns whole completions; ``stream`` yields events.

    Both take the prompt (or, with ``suffix``, the prefix of a Fill-in-the-Middle request) and
    validated :class:`GenerationParams`; both report token usage.  Backends do not attribute:
    :class:`whence.generator.attribution.AttributedGenerator` wraps one to do that.
    """

    name: str

    def generate(self, prompt: str, params: GenerationParams, *, suffix: str | None = None) -> Completion:
        """Generate ``params.num_responses`` completions."""
        ...

    def stream(
        self, prompt: str, params: GenerationParams, *, suffix: str | None = None
    ) -> Iterator[StreamEvent]:
        """Yield ``text`` events as tokens arrive, a ``finish`` event per choice, then ``usage``."""
        ...

    def close(self) -> None:
        """Release the model or the connection."""
        ...


def collect(events: Iterator[StreamEvent], model: str = "", *, logprobs: bool = False) -> Completion:
    """Gather a stream into a :class:`Completion` (how backends implement ``generate``); with
    ``logprobs``, each choice's tokens go to its :attr:`Choice.logprobs`."""
    texts: dict[int, list[str]] = {}
    tokens: dict[int, list[TokenLogprob]] = {}
    choices: dict[int, Choice] = {}
    usage = Usage(0, 0)
    for ev in events:
        if ev.kind == "text":
            texts.setdefault(ev.index, []).append(ev.text)
            if logprobs and (tok := ev.token_logprob()) is not None:
                tokens.setdefault(ev.index, []).append(tok)
        elif ev.kind == "finish":
            choices[ev.index] = Choice(
                ev.index, "".join(texts.get(ev.index, [])), ev.finish_reason or "stop", ev.tokens,
                logprobs=tokens.get(ev.index, []) if logprobs else None,
            )  # fmt: skip
        elif ev.kind == "usage" and ev.usage is not None:
            usage = ev.usage
    return Completion([choices[i] for i in sorted(choices)], usage, model)


def best_of(completion: Completion, n: int) -> Completion:
    """The ``n`` choices of ``completion`` with the highest mean token log-probability, best first and
    numbered from 0 (``best_of``); its usage still counts every choice's tokens, as OpenAI bills them.
    The choices must carry :attr:`Choice.logprobs`."""

    def score(c: Choice) -> float:
        lps = [t.logprob for t in c.logprobs or [] if t.logprob is not None]
        return sum(lps) / len(lps) if lps else -math.inf

    ranked = sorted(completion.choices, key=score, reverse=True)[:n]
    for i, c in enumerate(ranked):
        c.index = i
    return Completion(ranked, completion.usage, completion.model)


@dataclass
class StopBuffer:
    """Holds back streamed text that could be the start of a stop string, so none ever leaks out."""

    stop: tuple[str, ...]
    text: str = ""
    sent: int = 0
    done: bool = False
    _hold: int = field(init=False)

    def __post_init__(self) -> None:
        self._hold = max((len(s) for s in self.stop), default=1) - 1

    def feed(self, full_text: str) -> str:
        """Take the whole text so far; return what can be sent now.  Sets ``done`` at a stop string."""
        self.text = full_text
        cut = cut_at_stop(full_text, self.stop, self.sent)
        if cut is not None:
            self.done = True
            self.text = full_text[:cut]
            out = self.text[self.sent :]
            self.sent = len(self.text)
            return out
        upto = max(self.sent, len(full_text) - self._hold)
        out = full_text[self.sent : upto]
        self.sent = upto
        return out

    def flush(self) -> str:
        """The held-back tail at the end of generation."""
        out = self.text[self.sent :]
        self.sent = len(self.text)
        return out
