#!/usr/bin/env python3
"""Train a tiny StarCoder2 that memorises a small corpus: the honest end-to-end test of whence.

    python scripts/build_tiny_model.py --corpus DIR --out DIR [--max-minutes 8]

A byte-level BPE tokenizer (``tokenizers``) with StarCoder2's special tokens at their real ids
(``<|endoftext|>`` 0, ``<fim_prefix>`` 1, ``<fim_middle>`` 2, ``<fim_suffix>`` 3, ``<fim_pad>`` 4,
``<repo_name>`` 5, ``<file_sep>`` 6) and a small ``Starcoder2ForCausalLM`` (``model_type`` starcoder2,
grouped-query attention, a sliding window) are trained on every text file under ``--corpus`` until
greedy decoding reproduces each file from its first lines: the model predicts every next token of
every file correctly.  Half of the training samples are Fill-in-the-Middle samples in StarCoder2's
prefix-suffix-middle format, cut at line boundaries, so the model also fills a middle (training stops
early once held-out FIM samples' middles are predicted too).

The result is a folder ``Starcoder2ForCausalLM.from_pretrained`` and ``AutoTokenizer`` load.  It is
rebuilt only when this script, the corpus or the options change (a key in ``OUT/build.json``): the
test suite calls this script and pays for training once per machine.
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
#: Share of the middle tokens of held-out FIM samples predicted right before training stops early (the
#: corpus itself must be reproduced exactly; FIM only as well as this).
FIM_TARGET = 0.95


def corpus_files(corpus: Path) -> list[Path]:
    """Every text file under ``corpus``, in a stable order."""
    files = []
    for p in sorted(corpus.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts and b"\x00" not in p.read_bytes()[:8192]:
            files.append(p)
    return files


def build_key(corpus: Path, args: argparse.Namespace) -> str:
    """What the model depends on: this script, the corpus' paths and bytes, the options."""
    h = hashlib.sha256(Path(__file__).read_bytes())
    for p in corpus_files(corpus):
        h.update(str(p.relative_to(corpus)).encode() + b"\0" + p.read_bytes() + b"\0")
    opts = {
        k: v for k, v in vars(args).items() if k not in ("corpus", "out", "max_minutes", "quiet", "threads")
    }
    h.update(json.dumps(opts, sort_keys=True).encode())
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
    ap.add_argument("--corpus", type=Path, required=True, help="folder of source files to memorise")
    ap.add_argument("--out", type=Path, required=True, help="model folder to write")
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
    ap.add_argument("--max-steps", type=int, default=1500)
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (one is fastest on a busy 2-core machine: more spin against other work)",
    )
    ap.add_argument("--max-minutes", type=float, default=15.0, help="give up (exit 1) after this long")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()

    if not args.corpus.is_dir():
        print(f"error: --corpus {args.corpus}: not a folder", file=sys.stderr)
        return 2
    files = corpus_files(args.corpus)
    if not files:
        print(f"error: --corpus {args.corpus}: no text files", file=sys.stderr)
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

    def lm_sample() -> list[int]:
        i = rnd.randrange(max(1, len(stream) - args.seq))
        return stream[i : i + args.seq]

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
    def accuracy() -> tuple[float, float]:
        # Next-token accuracy over every file, each read whole, past its first PROMPT_TOKENS tokens
        # (files may begin alike): 1.0 means greedy decoding from any prefix of a file at least that
        # long reproduces the rest of it, end-of-text included.
        model.eval()
        right = total = 0
        wrong = []
        for f, ids in enumerate(docs):
            x = torch.tensor([[*ids, EOS]])
            pred = model(input_ids=x).logits[0, PROMPT_TOKENS - 1 : -1].argmax(-1)
            hits = pred == x[0, PROMPT_TOKENS:]
            right += int(hits.sum())
            total += len(pred)
            wrong += [(f, PROMPT_TOKENS + int(i)) for i in torch.nonzero(~hits).flatten()]
        if 0 < len(wrong) <= 3:
            say(f"  still wrong (file, token): {wrong}")
        fim_right = fim_total = 0
        for row in fim_eval:
            x = torch.tensor([row])
            m = row.index(FIM_MIDDLE)
            pred = model(input_ids=x).logits[0, m:-1].argmax(-1)
            fim_right += int((pred == x[0, m + 1 :]).sum())
            fim_total += len(pred)
        model.train()
        return right / total, fim_right / fim_total

    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    warmup = 50

    def lr_at(step: int) -> float:
        if step < warmup:
            return args.lr * (step + 1) / warmup
        return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, step / args.max_steps))))

    t0 = time.monotonic()
    acc = fim_acc = 0.0
    step = 0
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
        if step % 50 == 0:
            acc, fim_acc = accuracy()
            secs = time.monotonic() - t0
            say(f"step {step}: loss {loss.item():.4f}, corpus {acc:.4f}, FIM {fim_acc:.4f}, {secs:.0f}s")
            if acc == 1.0 and fim_acc >= FIM_TARGET:
                break
        if time.monotonic() - t0 > args.max_minutes * 60:
            break
    if acc < 1.0:
        print(
            f"error: after {step} steps ({time.monotonic() - t0:.0f}s) the model predicts {acc:.2%} of its "
            "corpus, not all of it: raise --max-steps/--max-minutes or shrink the corpus",
            file=sys.stderr,
        )
        return 1

    args.out.mkdir(parents=True, exist_ok=True)
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
    info = {
        "key": key,
        "steps": step,
        "seconds": round(time.monotonic() - t0, 1),
        "corpus_tokens": len(stream),
        "fim_accuracy": round(fim_acc, 4),
        "files": [str(p.relative_to(args.corpus)) for p in files],
    }
    stamp.write_text(json.dumps(info, indent=2) + "\n")
    if not args.quiet:
        print(f"{args.out}: trained in {info['seconds']}s, {step} steps, {len(stream)} corpus tokens")
    return 0


if __name__ == "__main__":
    sys.exit(main())
