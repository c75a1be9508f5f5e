"""The local backend: StarCoder2 through ``transformers``, on GPU (bf16) or CPU (fp32).

Decoding is a plain loop over the model with its key/value cache rather than ``model.generate``: it
streams text per choice, cuts at stop strings without ever emitting them, applies the OpenAI-style
presence and frequency penalties (logits processors below) and samples ``num_responses`` choices as one
batch of the same prompt, so no padding is needed.
"""

from __future__ import annotations

import inspect
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from whence.errors import GeneratorUnavailable, InvalidInput

from .base import (
    CONTEXT_TOKENS,
    Completion,
    GenerationParams,
    InvalidParameter,
    StopBuffer,
    StreamEvent,
    TokenLogprob,
    Usage,
    best_of,
    check_context,
    collect,
    fim_prompt,
)

if TYPE_CHECKING:
    import torch

INSTALL_HINT = "install the generate extra: pip install 'whence[generate]'"


def _import_torch() -> Any:
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as exc:
        raise GeneratorUnavailable(
            f"the local backend needs torch and transformers ({INSTALL_HINT})"
        ) from exc
    return torch


class _GeneratedTokenPenalty:
    """A logits processor that lowers the logits of tokens already in the generated part (the prompt,
    up to ``prompt_len``, is left out), by ``penalty`` times :meth:`weight` of their counts."""

    def __init__(self, penalty: float, prompt_len: int) -> None:
        self.penalty = penalty
        self.prompt_len = prompt_len

    def weight(self, counts: torch.Tensor) -> torch.Tensor:
        return counts

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        generated = input_ids[:, self.prompt_len :]
        if generated.shape[1] == 0:
            return scores
        counts = scores.new_zeros(scores.shape)
        counts.scatter_add_(1, generated, scores.new_ones(generated.shape))
        return scores - self.penalty * self.weight(counts)


class PresencePenalty(_GeneratedTokenPenalty):
    """OpenAI's presence penalty: ``logit -= penalty`` for every token that occurs at least once in
    the generated part."""

    def weight(self, counts: torch.Tensor) -> torch.Tensor:
        return (counts > 0).to(counts.dtype)


class FrequencyPenalty(_GeneratedTokenPenalty):
    """OpenAI's frequency penalty: ``logit -= penalty * count`` where ``count`` is how often the token
    occurs in the generated part."""


class LogitBias:
    """OpenAI's ``logit_bias``: adds each listed token's bias to its logit (a bias of -100 in effect
    bans the token, 100 all but forces it)."""

    def __init__(self, bias: tuple[tuple[int, float], ...]) -> None:
        self.ids = [i for i, _ in bias]
        self.values = [b for _, b in bias]

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        import torch

        ids = torch.tensor(self.ids, dtype=torch.long, device=scores.device)
        values = torch.tensor(self.values, dtype=scores.dtype, device=scores.device)
        out = scores.clone()
        out[:, ids] += values
        return out


def logits_processors(params: GenerationParams, prompt_len: int) -> list[Any]:
    """The processors for ``params``, in the order the hosted API applies them: ``logit_bias`` and the
    penalties first, then (when sampling) temperature, top-k and top-p.  Each is called as
    ``p(input_ids, scores)``."""
    from transformers.generation.logits_process import (
        RepetitionPenaltyLogitsProcessor,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    out: list[Any] = []
    if params.logit_bias:
        out.append(LogitBias(params.logit_bias))
    if params.repetition_penalty != 1.0:
        out.append(RepetitionPenaltyLogitsProcessor(params.repetition_penalty))
    if params.presence_penalty:
        out.append(PresencePenalty(params.presence_penalty, prompt_len))
    if params.frequency_penalty:
        out.append(FrequencyPenalty(params.frequency_penalty, prompt_len))
    if not params.greedy:
        if params.temperature != 1.0:
            out.append(TemperatureLogitsWarper(params.temperature))
        if params.top_k:
            out.append(TopKLogitsWarper(params.top_k))
        if params.top_p < 1.0:
            out.append(TopPLogitsWarper(params.top_p))
    return out


class LocalGenerator:
    """StarCoder2 loaded with ``transformers``.

    Args:
        model: a hub id (``bigcode/starcoder2-15b``, ``-7b``, ``-3b``) or a local folder with the
            weights and tokenizer.
        device: ``cuda``, ``cpu``, ``cuda:1``, … (default: the GPU if there is one).
        dtype: ``bfloat16``, ``float16`` or ``float32`` (default: bf16 on GPU, fp32 on CPU).
        quantize: ``8bit`` or ``4bit`` through ``bitsandbytes``, if the user installed it.

    Raises:
        GeneratorUnavailable: torch/transformers missing, or the model could not be loaded.
    """

    def __init__(
        self,
        model: str,
        *,
        device: str | None = None,
        dtype: str | None = None,
        quantize: str | None = None,
    ) -> None:
        torch = _import_torch()
        from transformers import AutoTokenizer, Starcoder2ForCausalLM

        self.name = model
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if dtype is None:
            dtype = "bfloat16" if self.device.startswith("cuda") else "float32"
        if dtype not in ("bfloat16", "float16", "float32"):
            raise InvalidInput(f"dtype: must be bfloat16, float16 or float32, got {dtype!r}")
        self.dtype = dtype
        local = Path(model).expanduser()
        if local.exists() and not local.is_dir():
            raise GeneratorUnavailable(f"{model}: a model is a folder (or a hub id), not a file")
        kwargs: dict[str, Any] = {"dtype": getattr(torch, dtype)}
        if local.is_dir():
            model = str(local)
            kwargs["local_files_only"] = True
        if quantize is not None:
            kwargs["quantization_config"] = _quantization(quantize)
            kwargs["device_map"] = self.device
        # transformers' own annotations are partial: the two objects are used through Any.
        self.tokenizer: Any
        self.model: Any
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model, local_files_only=local.is_dir())
            self.model = Starcoder2ForCausalLM.from_pretrained(model, **kwargs)
        except (OSError, ValueError) as exc:
            raise GeneratorUnavailable(f"cannot load the model {model!r}: {exc}") from exc
        if self.model.config.model_type != "starcoder2":
            raise GeneratorUnavailable(
                f"{model}: model_type is {self.model.config.model_type}, not starcoder2"
            )
        if quantize is None:
            self.model.to(self.device)
        self._setup()

    @classmethod
    def wrap(cls, model: Any, tokenizer: Any, *, name: str = "starcoder2") -> LocalGenerator:
        """A generator over an already built model and tokenizer (the benchmark's random-weight
        StarCoder2, for one).  Token ids the tokenizer does not have are never sampled."""
        self = cls.__new__(cls)
        self.name = name
        self.model = model
        self.tokenizer = tokenizer
        param = next(model.parameters())
        self.device = str(param.device)
        self.dtype = str(param.dtype).removeprefix("torch.")
        self._setup()
        return self

    def _setup(self) -> None:
        self.model.eval()
        self.eos_token_id = int(self.tokenizer.eos_token_id if self.tokenizer.eos_token_id is not None else 0)
        self.context = min(CONTEXT_TOKENS, int(self.model.config.max_position_embeddings))
        # A model may have more embedding rows than its tokenizer has tokens (padded vocabularies):
        # those ids decode to nothing and are masked out.
        self.vocab = len(self.tokenizer)
        self.special_ids = frozenset(int(i) for i in self.tokenizer.all_special_ids)
        # transformers 5 renamed the cache argument and output (past_key_values -> cache).
        self._cache_arg = (
            "cache" if "cache" in inspect.signature(self.model.forward).parameters else "past_key_values"
        )

    def __enter__(self) -> LocalGenerator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop the model (and free GPU memory)."""
        self.__dict__.pop("model", None)

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` (special tokens such as ``<fim_prefix>`` count as one)."""
        return len(self.tokenizer(text, add_special_tokens=False).input_ids)

    def generate(
        self,
        prompt: str,
        params: GenerationParams,
        *,
        suffix: str | None = None,
        extra_processors: Sequence[Any] = (),
    ) -> Completion:
        """Generate ``params.num_responses`` completions (see :class:`CodeGenerator`); with ``best_of``,
        sample that many and keep the most likely.  ``extra_processors`` as for :meth:`stream`."""
        n = params.best_of or params.num_responses
        events = self._start(prompt, params, suffix, n, extra_processors)
        completion = collect(events, self.name, logprobs=True)
        if n > params.num_responses:
            completion = best_of(completion, params.num_responses)
        if params.logprobs is None:
            for c in completion.choices:
                c.logprobs = None
        return completion

    def stream(
        self,
        prompt: str,
        params: GenerationParams,
        *,
        suffix: str | None = None,
        extra_processors: Sequence[Any] = (),
    ) -> Iterator[StreamEvent]:
        """Yield one ``text`` event per sampled token (its id, log-probability and whether it is special;
        ``text`` is what may be sent now), a ``finish`` event per choice, then ``usage``.
        ``extra_processors`` are logits processors applied before the parameters' own (the
        ``regenerate`` policy's penalty: ``whence.generator.regenerate``).

        Raises:
            InvalidInput: an empty prompt, or prompt + ``max_new_tokens`` beyond the context.
            InvalidParameter: ``best_of`` above ``num_responses`` (only whole completions can be ranked),
                or a ``logit_bias`` token the model does not have.
        """
        if params.best_of is not None and params.best_of > params.num_responses:
            raise InvalidParameter("best_of", "cannot be used with streaming (completions are ranked whole)")
        return self._start(prompt, params, suffix, params.num_responses, extra_processors)

    def _start(
        self,
        prompt: str,
        params: GenerationParams,
        suffix: str | None,
        n: int,
        extra: Sequence[Any] = (),
    ) -> Iterator[StreamEvent]:
        torch = _import_torch()
        text = fim_prompt(prompt, suffix) if suffix is not None else prompt
        if not text:
            raise InvalidInput("prompt: empty (give some code to continue, or a --suffix for FIM)")
        for tok, _ in params.logit_bias:
            if tok >= self.vocab:
                raise InvalidParameter(
                    "logit_bias", f"token id {tok} is not in the model's vocabulary (0-{self.vocab - 1})"
                )
        ids = self.tokenizer(text, add_special_tokens=False).input_ids
        check_context(len(ids), params.max_new_tokens, self.context)
        return self._decode(torch, ids, params, n, extra)

    def _token_text(self, tok: int) -> str:
        """A token's own text, special tokens written out (the keys of ``top_logprobs``)."""
        return str(
            self.tokenizer.decode([tok], skip_special_tokens=False, clean_up_tokenization_spaces=False)
        )

    def _top(self, torch: Any, logprobs: torch.Tensor, k: int) -> list[dict[str, float]]:
        """Per row of ``logprobs``, its ``k`` most likely tokens (those with a finite log-probability)."""
        values, idx = torch.topk(logprobs, min(k, logprobs.shape[-1]), dim=-1)
        out: list[dict[str, float]] = []
        for vs, ix in zip(values.tolist(), idx.tolist(), strict=True):
            row: dict[str, float] = {}
            for v, i in zip(vs, ix, strict=True):
                if v != float("-inf"):
                    row.setdefault(self._token_text(i), v)
            out.append(row)
        return out

    def _with(self, top: dict[str, float], tok: int, logprob: float) -> dict[str, float]:
        """``top`` with the chosen token in it (OpenAI always lists it: up to ``logprobs`` + 1 entries)."""
        top.setdefault(self._token_text(tok), logprob)
        return top

    def prompt_logprobs(self, prompt: str, top: int = 0) -> list[TokenLogprob]:
        """The prompt's tokens with their log-probabilities under the model (the first token has none:
        nothing precedes it) and, with ``top``, the ``top`` most likely tokens at each position: what
        OpenAI's ``echo`` with ``logprobs`` returns for the prompt.

        Raises:
            InvalidInput: an empty prompt, or one longer than the context.
        """
        torch = _import_torch()
        if not prompt:
            raise InvalidInput("prompt: empty")
        ids = self.tokenizer(prompt, add_special_tokens=False).input_ids
        check_context(len(ids), 0, self.context)
        out: list[TokenLogprob] = []
        pending: list[int] = []
        with torch.inference_mode():
            # Hidden states once, then the vocabulary-wide head over slices of positions: the logits of a
            # 16k-token prompt at once would take gigabytes.
            seq = torch.tensor([ids], dtype=torch.long, device=self.device)
            hidden = self.model.model(input_ids=seq).last_hidden_state[0]
            chunk = 256
            for start in range(0, len(ids), chunk):
                logits = self.model.lm_head(hidden[start : start + chunk]).float()
                if logits.shape[-1] > self.vocab:
                    logits[:, self.vocab :] = float("-inf")
                lps = torch.log_softmax(logits, dim=-1)
                nxt = torch.tensor(ids[start + 1 : start + 1 + chunk], dtype=torch.long, device=self.device)
                chosen = lps[: len(nxt)].gather(1, nxt[:, None]).squeeze(1).tolist() if len(nxt) else []
                tops = self._top(torch, lps[: len(nxt)], top) if top and len(nxt) else []
                for j in range(start, min(start + chunk, len(ids))):
                    if j == 0:
                        out.append(self._prompt_token(ids[0], None, None, pending))
                    lp_index = j - start
                    if j + 1 < len(ids) and lp_index < len(chosen):
                        top_j = None
                        if top:
                            top_j = self._with(tops[lp_index], ids[j + 1], chosen[lp_index])
                        out.append(self._prompt_token(ids[j + 1], chosen[lp_index], top_j, pending))
        if pending:  # a prompt that ends inside a character
            out[-1].text += self.tokenizer.decode(pending, skip_special_tokens=False)
        return out

    def _prompt_token(
        self, tok: int, logprob: float | None, top: dict[str, float] | None, pending: list[int]
    ) -> TokenLogprob:
        pending.append(tok)
        piece = str(
            self.tokenizer.decode(pending, skip_special_tokens=False, clean_up_tokenization_spaces=False)
        )
        if piece.endswith("\ufffd") and len(pending) < 4:
            piece = ""
        else:
            pending.clear()
        return TokenLogprob(piece, logprob, top, tok)

    def _forward(self, input_ids: torch.Tensor, cache: Any) -> tuple[torch.Tensor, Any]:
        kwargs = {self._cache_arg: cache} if cache is not None else {}
        # logits_to_keep=1: only the last position's logits are needed (saves a vocab-wide matmul per
        # prompt token).
        out = self.model(input_ids=input_ids, use_cache=True, logits_to_keep=1, **kwargs)
        new_cache = out["cache"] if "cache" in out else out["past_key_values"]
        logits = out.logits[:, -1, :].float()
        if logits.shape[-1] > self.vocab:
            logits[:, self.vocab :] = float("-inf")
        return logits, new_cache

    def _decode(
        self, torch: Any, ids: list[int], params: GenerationParams, n: int, extra: Sequence[Any] = ()
    ) -> Iterator[StreamEvent]:
        gen = torch.Generator(device=self.device)
        gen.manual_seed(params.seed if params.seed is not None else random.getrandbits(63))
        processors = [*extra, *logits_processors(params, len(ids))]
        seqs = torch.tensor([ids] * n, dtype=torch.long, device=self.device)
        counts = [0] * n  # tokens sampled per choice, the end-of-text token included
        pending: list[list[int]] = [[] for _ in range(n)]  # tokens whose UTF-8 is not complete yet
        texts = [""] * n
        buffers = [StopBuffer(params.stop) for _ in range(n)]
        done = [False] * n
        # Torch runs in inference mode one step at a time, never across a yield: a stream may be resumed
        # on another thread (an HTTP response's body is), and the mode is a thread's own.
        with torch.inference_mode():
            logits, cache = self._forward(seqs, None)
        for _ in range(params.max_new_tokens):
            with torch.inference_mode():
                scores = logits
                for proc in processors:
                    scores = proc(seqs, scores)
                # The log-probabilities of the distribution the token is drawn from (after the
                # processors; greedy picks its most likely token).
                logprobs = torch.log_softmax(scores, dim=-1)
                if params.greedy:
                    nxt = scores.argmax(-1)
                else:
                    probs = torch.softmax(scores, dim=-1)
                    nxt = torch.multinomial(probs, 1, generator=gen).squeeze(1)
                toks = nxt.tolist()
                chosen = logprobs.gather(1, nxt[:, None]).squeeze(1).tolist()
                tops = self._top(torch, logprobs, params.logprobs) if params.logprobs else None
            for i, tok in enumerate(toks):
                if done[i]:
                    continue
                counts[i] += 1
                token = {"token_id": tok, "logprob": chosen[i], "special": tok in self.special_ids,
                         "top_logprobs": self._with(tops[i] if tops else {}, tok, chosen[i])
                         if params.logprobs is not None else None}  # fmt: skip
                if tok == self.eos_token_id:
                    done[i] = True
                    yield StreamEvent("text", i, token="", **token)
                    yield from self._finish(i, buffers[i], "stop", counts[i])
                    continue
                pending[i].append(tok)
                piece = self.tokenizer.decode(
                    pending[i], skip_special_tokens=True, clean_up_tokenization_spaces=False
                )
                if piece.endswith("\ufffd") and len(pending[i]) < 4:
                    # A character split across tokens: its last token carries it.
                    yield StreamEvent("text", i, token="", **token)
                    continue
                pending[i] = []
                texts[i] += piece
                out = buffers[i].feed(texts[i])
                yield StreamEvent("text", i, text=out, token=piece, **token)
                if buffers[i].done:
                    done[i] = True
                    yield from self._finish(i, buffers[i], "stop", counts[i])
            if all(done):
                break
            with torch.inference_mode():
                # Finished rows keep decoding (their tokens are ignored): the batch stays rectangular.
                seqs = torch.cat([seqs, nxt[:, None]], dim=1)
                logits, cache = self._forward(nxt[:, None], cache)
        for i in range(n):
            if not done[i]:
                if pending[i]:
                    texts[i] += self.tokenizer.decode(
                        pending[i], skip_special_tokens=True, clean_up_tokenization_spaces=False
                    )
                    out = buffers[i].feed(texts[i])
                    if out:
                        yield StreamEvent("text", i, text=out)
                reason = "stop" if buffers[i].done else "length"
                yield from self._finish(i, buffers[i], reason, counts[i])
        yield StreamEvent("usage", usage=Usage(len(ids), sum(counts)))

    @staticmethod
    def _finish(i: int, buf: StopBuffer, reason: Any, tokens: int) -> Iterator[StreamEvent]:
        rest = buf.flush()
        if rest:
            yield StreamEvent("text", i, text=rest)
        yield StreamEvent("finish", i, finish_reason=reason, tokens=tokens)


def _quantization(kind: str) -> Any:
    if kind not in ("8bit", "4bit"):
        raise InvalidInput(f"quantize: must be 8bit or 4bit, got {kind!r}")
    import importlib.util

    if importlib.util.find_spec("bitsandbytes") is None:
        raise GeneratorUnavailable(f"quantize {kind} needs bitsandbytes: pip install bitsandbytes")
    import transformers

    config: Any = transformers.BitsAndBytesConfig
    return config(load_in_8bit=True) if kind == "8bit" else config(load_in_4bit=True)
