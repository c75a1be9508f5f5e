#!/usr/bin/env python3
"""Train a tiny StarCoder2 that memorises a small corpus: the honest end-to-end test of whence.

    python scripts/model/build_tiny_model.py --corpus DIR --out DIR [--max-minutes 20]

A byte-level BPE tokenizer (``tokenizers``) with StarCoder2's special tokens at their real ids
(``<|endoftext|>`` 0, ``<fim_prefix>`` 1, ``<fim_middle>`` 2, ``<fim_suffix>`` 3, ``<fim_pad>`` 4,
``<repo_name>`` 5, ``<file_sep>`` 6) and a small ``Starcoder2ForCausalLM`` (``model_type`` starcoder2,
grouped-query attention, a sliding window) are trained on every text file under ``--corpus`` until
greedy decoding reproduces each file from its first lines: the model predicts every next token of
every file correctly.  Half of the training samples are Fill-in-the-Middle samples in StarCoder2's
prefix-suffix-middle format, cut at line boundaries, so the model also fills a middle.

Training is not bit-for-bit reproducible across machines (CPU float kernels differ), so the script
never judges only its last evaluation: it keeps the best checkpoint seen, ranked by corpus
reproduction first, then held-out FIM accuracy up to ``FIM_TARGET``, then the smallest logit margin
over the corpus up to ``MARGIN_TARGET`` (a wide margin keeps greedy decoding the same on another CPU).
It stops once all three targets are reached or the budget (``--max-steps``, ``--max-minutes``) ends,
saves the best checkpoint and says what it reached.  It exits 1 only when no evaluation reproduced
the corpus, and then saves nothing.

The result is a folder ``Starcoder2ForCausalLM.from_pretrained`` and ``AutoTokenizer`` load, with
``build.json`` beside it: what was reached, the options, and sha256 checksums of this script and of
the corpus (each file's relative path and bytes).  The test suite does not train: it loads the model
shipped in ``tests/fixtures/tiny-starcoder2/`` and a test fails when this script or the corpus no
longer match the checksums recorded there.  Rebuild the fixture on purpose with
``python scripts/model/build_tiny_model.py --fixture`` (the corpus the tests use, written to that folder).
The fixture's corpus and folder and both checksums are defined in ``whence_dev.tiny_model``; what they
cover, this script's bytes and the corpus, is all that shapes the model.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

from whence_dev.tiny_model import FIXTURE, ROOT, corpus_files, corpus_sha256, fixture_corpus, script_sha256

SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<fim_prefix>",
    "<fim_middle>",
    "<fim_suffix>",
    "<fim_pad>",
    "<repo_name>",
    "<file_sep>",
]
EOS, FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX = 0, 1, 2, 3
#: Greedy decoding must reproduce a file from a prompt of this many of its first tokens on.
PROMPT_TOKENS = 24
#: Share of the middle tokens of held-out FIM samples predicted right before training stops (the corpus
#: itself must be reproduced exactly; FIM only as well as this).  Training on stops at the first
#: checkpoint that reaches every target: longer, the model grows so sure of every token that a penalty
#: of 2 (the most the hosted API allows for presence and frequency) no longer changes what it writes.
FIM_TARGET = 0.93
#: Smallest gap, over every corpus position, between the right token's logit and the runner-up's that
#: training aims for once the corpus is reproduced: far above the differences between CPUs' kernels.
MARGIN_TARGET = 1.0


def training_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options that shape the model (not where it goes, how long it may take or how loud it is)."""
    skip = ("corpus", "out", "fixture", "max_minutes", "quiet", "threads")
    return {k: v for k, v in sorted(vars(args).items()) if k not in skip}


def build_key(corpus: Path, args: argparse.Namespace) -> str:
    """What the model depends on: this script, the corpus' paths and bytes, the options."""
    h = hashlib.sha256(f"{script_sha256()} {corpus_sha256(corpus)}".encode())
    h.update(json.dumps(training_options(args), sort_keys=True).encode())
    return h.hexdigest()[:16]


def train_tokenizer(texts: list[str], vocab_size: int) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    # Byte-level like StarCoder2's: every string round-trips exactly, whatever its characters.
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    for i, name in enumerate(SPECIAL_TOKENS):
        assert tok.token_to_id(name) == i, f"{name} is not at id {i}"
    return tok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, help="folder of source files to memorise")
    ap.add_argument("--out", type=Path, help="model folder to write")
    ap.add_argument(
        "--fixture",
        action="store_true",
        help=f"rebuild the test suite's model: its corpus, written to {FIXTURE.relative_to(ROOT)}",
    )
    ap.add_argument("--vocab-size", type=int, default=1024)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--sliding-window", type=int, default=128)
    ap.add_argument(
        "--seq", type=int, default=320, help="training window in tokens (longer than the sliding window)"
    )
    ap.add_argument("--fim-rate", type=float, default=0.5, help="share of Fill-in-the-Middle samples")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--max-steps", type=int, default=3000, help="training budget in steps")
    ap.add_argument("--eval-every", type=int, default=50, help="evaluate (and maybe keep) every N steps")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (one is fastest on a busy 2-core machine: more spin against other work)",
    )
    ap.add_argument("--max-minutes", type=float, default=25.0, help="training budget in minutes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()

    if args.fixture:
        if args.corpus or args.out:
            ap.error("--fixture writes the test suite's corpus and model: give neither --corpus nor --out")
        import tempfile

        with tempfile.TemporaryDirectory(prefix="tiny-corpus-") as tmp:
            args.corpus, args.out = fixture_corpus(Path(tmp)), FIXTURE
            return build(args)
    if not args.corpus or not args.out:
        ap.error("give --corpus DIR and --out DIR (or --fixture)")
    return build(args)


def build(args: argparse.Namespace) -> int:
    if not args.corpus.is_dir():
        print(f"error: --corpus {args.corpus}: not a folder", file=sys.stderr)
        return 2
    files = corpus_files(args.corpus)
    if not files:
        print(f"error: --corpus {args.corpus}: no text files", file=sys.stderr)
        return 2
    if args.max_steps < args.eval_every:
        print("error: --max-steps is below --eval-every: the model would never be evaluated", file=sys.stderr)
        return 2
    key = build_key(args.corpus, args)
    stamp = args.out / "build.json"
    if stamp.is_file() and json.loads(stamp.read_text()).get("key") == key:
        if not args.quiet:
            print(f"{args.out}: up to date (key {key})")
        return 0

    import torch
    from transformers import PreTrainedTokenizerFast, Starcoder2Config, Starcoder2ForCausalLM

    def say(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    rnd = random.Random(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    texts = [p.read_text(encoding="utf-8") for p in files]
    tok = train_tokenizer(texts, args.vocab_size)
    docs = [tok.encode(t).ids for t in texts]
    for t, ids in zip(texts, docs, strict=True):
        assert tok.decode(ids, skip_special_tokens=False) == t, "tokenizer does not round-trip"
    stream: list[int] = []
    for ids in docs:
        stream += [*ids, EOS]
    lines = [t.splitlines(keepends=True) for t in texts]
    say(f"corpus: {len(files)} files, {sum(map(len, texts))} chars, {len(stream)} tokens")

    config = Starcoder2Config(
        vocab_size=tok.get_vocab_size(),
        hidden_size=args.hidden,
        intermediate_size=4 * args.hidden,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        num_key_value_heads=args.kv_heads,
        max_position_embeddings=16384,
        sliding_window=args.sliding_window,
        bos_token_id=EOS,
        eos_token_id=EOS,
        pad_token_id=EOS,
        tie_word_embeddings=False,
        use_bias=True,
    )
    model = Starcoder2ForCausalLM(config)
    say(f"model: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters")

    def fim_sample(rng: random.Random) -> list[int]:
        # Cut a run of lines of one file into prefix | middle | suffix (up to 8, 4 and 6 lines), each
        # tokenised on its own as at inference time; prefix-suffix-middle order, as StarCoder2 was
        # trained, ending with the end-of-text token after the middle.
        ls = lines[rng.randrange(len(lines))]
        a = rng.randrange(len(ls))
        start = max(0, a - rng.randint(1, 8))
        b = min(len(ls), a + rng.randint(1, 4))
        end = min(len(ls), b + rng.randint(1, 6))
        pre, mid, suf = "".join(ls[start:a]), "".join(ls[a:b]), "".join(ls[b:end])
        ids = [FIM_PREFIX, *tok.encode(pre).ids, FIM_SUFFIX, *tok.encode(suf).ids, FIM_MIDDLE]
        return ([*ids, *tok.encode(mid).ids, EOS])[: args.seq]

    # A fixed set of FIM samples to measure how well the middle (and its end) is predicted.
    fim_eval = [fim_sample(random.Random(1000 + i)) for i in range(48)]

    # The stream read as a ring (the last file's end-of-text is followed by the first file), so that
    # every token, the last one included, is as likely to be in a window as any other.
    ring = stream + stream[: args.seq]

    def lm_sample() -> list[int]:
        i = rnd.randrange(len(stream))
        return ring[i : i + args.seq]

    def batch() -> tuple[torch.Tensor, torch.Tensor]:
        rows = [fim_sample(rnd) if rnd.random() < args.fim_rate else lm_sample() for _ in range(args.batch)]
        width = max(map(len, rows))
        ids = torch.full((len(rows), width), EOS, dtype=torch.long)
        labels = torch.full((len(rows), width), -100, dtype=torch.long)
        for r, row in enumerate(rows):
            ids[r, : len(row)] = torch.tensor(row)
            labels[r, : len(row)] = torch.tensor(row)
        return ids, labels

    @torch.no_grad()
    def evaluate(m: Any) -> Reached:
        # Next-token accuracy over every file, each read whole, past its first PROMPT_TOKENS tokens
        # (files may begin alike): 1.0 means greedy decoding from any prefix of a file at least that
        # long reproduces the rest of it, end-of-text included.  The margin is the smallest gap between
        # the right token's logit and the best other one (negative where a token is predicted wrong).
        m.eval()
        right = total = 0
        margin = math.inf
        wrong = []
        for f, ids in enumerate(docs):
            x = torch.tensor([[*ids, EOS]])
            logits = m(input_ids=x).logits[0, PROMPT_TOKENS - 1 : -1].float()
            want = x[0, PROMPT_TOKENS:]
            hits = logits.argmax(-1) == want
            right += int(hits.sum())
            total += len(want)
            wrong += [(f, PROMPT_TOKENS + int(i)) for i in torch.nonzero(~hits).flatten()]
            good = logits.gather(1, want[:, None])[:, 0]
            others = logits.scatter(1, want[:, None], -math.inf).max(-1).values
            margin = min(margin, float((good - others).min()))
        if 0 < len(wrong) <= 3:
            say(f"  still wrong (file, token): {wrong}")
        fim_right = fim_total = 0
        for row in fim_eval:
            x = torch.tensor([row])
            mid = row.index(FIM_MIDDLE)
            pred = m(input_ids=x).logits[0, mid:-1].argmax(-1)
            fim_right += int((pred == x[0, mid + 1 :]).sum())
            fim_total += len(pred)
        m.train()
        return Reached(right / total, fim_right / fim_total, margin)

    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    warmup = 50

    def lr_at(step: int) -> float:
        if step < warmup:
            return args.lr * (step + 1) / warmup
        return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, step / args.max_steps))))

    t0 = time.monotonic()
    best: Reached | None = None
    best_state: dict[str, Any] = {}
    best_step = step = 0
    stopped = "the step budget (--max-steps) ended"
    model.train()
    for step in range(1, args.max_steps + 1):
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        ids, labels = batch()
        loss = model(input_ids=ids, labels=labels).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        out_of_time = time.monotonic() - t0 > args.max_minutes * 60
        if step % args.eval_every == 0 or out_of_time:
            now = evaluate(model)
            kept = best is None or now.rank() > best.rank()
            if kept:
                best, best_step = now, step
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            say(
                f"step {step}: loss {loss.item():.4f}, {now}, {time.monotonic() - t0:.0f}s"
                + (" (best so far: kept)" if kept else "")
            )
            if now.done():
                stopped = "every target was reached"
                break
        if out_of_time:
            stopped = "the time budget (--max-minutes) ended"
            break
    seconds = round(time.monotonic() - t0, 1)
    if best is None or best.corpus < 1.0:
        reached = f"at best {best.corpus:.2%}" if best else "nothing (never evaluated)"
        print(
            f"error: after {step} steps ({seconds:.0f}s; {stopped}) the model predicted {reached} of its "
            "corpus, never all of it: raise --max-steps/--max-minutes or shrink the corpus; nothing saved",
            file=sys.stderr,
        )
        return 1

    model.load_state_dict(best_state)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)  # no stamp while the folder is half written
    model.save_pretrained(args.out)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=SPECIAL_TOKENS[1:],
        model_max_length=16384,
        clean_up_tokenization_spaces=False,
    )
    fast.save_pretrained(args.out)
    # What was saved is what was measured: read it back the way users' models are read, and evaluate.
    saved = evaluate(Starcoder2ForCausalLM.from_pretrained(args.out))
    if saved.corpus < 1.0:
        print(
            f"error: the model read back from {args.out} no longer reproduces its corpus ({saved})",
            file=sys.stderr,
        )
        return 1
    info = {
        "key": key,
        "script_sha256": script_sha256(),
        "corpus_sha256": corpus_sha256(args.corpus),
        "files": [p.relative_to(args.corpus).as_posix() for p in files],
        "options": training_options(args),
        "prompt_tokens": PROMPT_TOKENS,
        "reached": {
            "step": best_step,
            "corpus_accuracy": best.corpus,
            "fim_accuracy": round(best.fim, 4),
            "min_margin": round(best.margin, 3),
            "targets": {"corpus_accuracy": 1.0, "fim_accuracy": FIM_TARGET, "min_margin": MARGIN_TARGET},
        },
        "stopped": {"step": step, "seconds": seconds, "why": stopped},
        "corpus_tokens": len(stream),
        "torch": torch.__version__,
    }
    stamp.write_text(json.dumps(info, indent=2) + "\n")
    missed = [name for name, ok in (("FIM", best.fim >= FIM_TARGET), ("margin", best.margin >= MARGIN_TARGET))
              if not ok]  # fmt: skip
    print(
        f"{args.out}: saved the checkpoint of step {best_step} ({best}): the corpus is reproduced"
        + (f"; {' and '.join(missed)} below target" if missed else ", every target reached")
        + f". Trained {step} steps in {seconds:.0f}s; stopped because {stopped}."
    )
    return 0


class Reached:
    """What one evaluation measured; ``rank`` orders checkpoints, best last."""

    def __init__(self, corpus: float, fim: float, margin: float) -> None:
        self.corpus, self.fim, self.margin = corpus, fim, margin

    def rank(self) -> tuple[float, ...]:
        # Corpus reproduction first; then FIM up to its target; then the margin up to its target; then
        # whatever is left over of each.
        return (
            self.corpus,
            min(self.fim, FIM_TARGET),
            min(self.margin, MARGIN_TARGET),
            self.fim,
            self.margin,
        )

    def done(self) -> bool:
        return self.corpus == 1.0 and self.fim >= FIM_TARGET and self.margin >= MARGIN_TARGET

    def __str__(self) -> str:
        return f"corpus {self.corpus:.4f}, FIM {self.fim:.4f}, margin {self.margin:.3f}"


if __name__ == "__main__":
    sys.exit(main())
