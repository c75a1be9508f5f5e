#!/usr/bin/env python3
"""Generation throughput with and without attribution, and attribution's share of generation time.

    python scripts/bench/generate.py                      # the shipped tiny StarCoder2, CPU
    python scripts/bench/generate.py --config starcoder2-15b --random-weights          # a GPU session
    python scripts/bench/generate.py --config starcoder2-15b --random-weights --layers 1 --device cpu

For each prompt, 256-token completions (greedy, ``--tokens``) are timed three ways in one process:
the backend alone (the baseline), ``AttributedGenerator.generate`` (one search of the completion) and
``AttributedGenerator.stream`` (searches as the text grows, plus the final one).  Attribution's share
is the time spent in ``index.search`` over the time spent generating; the target is <= 5 %.

The index is real: this Python's standard library (python/cpython, PSF-2.0) plus the tiny model's
corpus (which it memorised, so its completions are found and aligned: the expensive case), built once
into the cache folder.  ``--config starcoder2-15b --random-weights`` builds the exact starcoder2-15b
architecture (hidden 6144, 40 layers, 48 heads, 4 KV heads, intermediate 24576, vocabulary 49152, no
tied embeddings) with random weights in bf16 on the GPU, so throughput and overhead are measured at
real size without the weights; it samples only ids the tiny tokenizer has, and since random weights
write no real code, it also times the search of 256-token windows of real code for comparison.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import statistics
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

from whence_dev.tiny_model import FIXTURE, fixture_corpus

STDLIB = Path(sysconfig.get_paths()["stdlib"])

STARCODER2_15B = {
    "hidden_size": 6144,
    "num_hidden_layers": 40,
    "num_attention_heads": 48,
    "num_key_value_heads": 4,
    "intermediate_size": 24576,
    "vocab_size": 49152,
    "max_position_embeddings": 16384,
    "sliding_window": 4096,
    "rope_theta": 100000.0,
    "norm_epsilon": 1e-5,
    "use_bias": True,
    "hidden_act": "gelu_pytorch_tanh",
    "tie_word_embeddings": False,
    "bos_token_id": 0,
    "eos_token_id": 0,
}


def cache_root() -> Path:
    env = os.environ.get("WHENCE_TEST_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "whence" / "tests"


def tiny_corpus(dest: Path) -> Path:
    """The tiny model's corpus, laid out as the tests lay it out."""
    return fixture_corpus(dest)


#: The tiny StarCoder2 shipped with the tests (``scripts/model/build_tiny_model.py --fixture`` made it).
TINY_MODEL = FIXTURE


def build_index(corpus: Path, path: Path) -> dict[str, Any]:
    from whence.index import ingest
    from whence.index.stores import open_store

    if not path.exists():
        tmp = path.with_suffix(".building")
        tmp.unlink(missing_ok=True)
        with open_store(tmp, create=True) as store:
            # The standard library itself, not the packages installed beside it.
            stdlib = corpus.parent / "stdlib"
            shutil.copytree(STDLIB, stdlib, ignore=shutil.ignore_patterns("site-packages", "__pycache__"))
            ingest.build(store, ingest.sources([stdlib], repo="python/cpython", licenses=["PSF-2.0"]))
            for folder, repo, spdx in (
                ("cpython", "python/cpython", "PSF-2.0"),
                ("hypothesis", "HypothesisWorks/hypothesis", "MPL-2.0"),
            ):
                ingest.build(store, ingest.sources([corpus / folder], repo=repo, licenses=[spdx]))
        tmp.rename(path)
    with open_store(path, readonly=True) as store:
        return store.stats()


def random_15b(layers: int | None, device: str, tokenizer_dir: Path) -> Any:
    import torch
    from transformers import AutoTokenizer, Starcoder2Config, Starcoder2ForCausalLM

    from whence.generator.local import LocalGenerator

    cfg = dict(STARCODER2_15B)
    if layers is not None:
        cfg["num_hidden_layers"] = layers
    rope_theta = cfg.pop("rope_theta")
    config = Starcoder2Config(**cfg)
    config.rope_parameters = {"rope_type": "default", "rope_theta": rope_theta}
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    torch.manual_seed(0)
    # Built directly on the device, in its dtype: 15 B parameters never pass through host memory.
    with torch.device(device):
        model = Starcoder2ForCausalLM._from_config(config, dtype=dtype)
    tok = AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)
    return LocalGenerator.wrap(model, tok, name=f"starcoder2-15b-random-{cfg['num_hidden_layers']}l")


def sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--model", default=None, help="model folder (default: the tiny StarCoder2 shipped in tests/fixtures/)"
    )
    ap.add_argument("--config", choices=["starcoder2-15b"], default=None)
    ap.add_argument("--random-weights", action="store_true", help="with --config: random weights")
    ap.add_argument("--layers", type=int, default=None, help="with --config: fewer layers (a CPU smoke run)")
    ap.add_argument("--device", default=None, help="default: cuda if present, else cpu")
    ap.add_argument("--index", type=Path, default=None, help="index file (default: built into the cache)")
    ap.add_argument("--tokens", type=int, default=256, help="new tokens per completion")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()

    import torch

    from whence.generator.attribution import AttributedGenerator, Attributor
    from whence.generator.base import GenerationParams
    from whence.generator.local import LocalGenerator
    from whence.index import search as search_mod
    from whence.index.stores import open_store

    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if args.config and not args.random_weights:
        print("error: --config needs --random-weights (it builds the architecture only)", file=sys.stderr)
        return 2
    if args.config and device == "cpu" and args.layers is None:
        print(
            "error: --config starcoder2-15b needs a CUDA GPU (15 B parameters, 32 GB in bf16) and none is "
            "visible; to try the code path on CPU pass --layers 1 --device cpu",
            file=sys.stderr,
        )
        return 2
    if device.startswith("cuda") and not torch.cuda.is_available():
        print(f"error: --device {device}: CUDA is not available", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="whence-bench-"))
    corpus = tiny_corpus(work / "corpus")
    tiny = Path(args.model) if args.model else TINY_MODEL
    index = args.index or cache_root() / f"bench-index-py{sys.version_info[0]}{sys.version_info[1]}.sqlite"
    stats = build_index(corpus, index)

    t0 = time.perf_counter()
    gen = random_15b(args.layers, device, tiny) if args.config else LocalGenerator(str(tiny), device=device)
    load_s = time.perf_counter() - t0

    files = sorted(p for p in corpus.rglob("*.py"))
    # Prompts: the first 12 lines of each memorised file (without the last newline, which byte-level
    # BPE would merge with the next line's indentation), so greedy output is real, indexed code.
    prompts = ["".join(p.read_text().splitlines(keepends=True)[:12])[:-1] for p in files]
    params = GenerationParams(temperature=0, max_new_tokens=args.tokens)

    with open_store(index, readonly=True) as store:
        attributor = Attributor(store)
        agen = AttributedGenerator(gen, attributor)
        gen.generate(prompts[0], GenerationParams(temperature=0, max_new_tokens=8))  # warm-up
        names = ("plain_s", "attr_total_s", "attr_search_s", "stream_total_s", "stream_search_s")
        rows: dict[str, list[float]] = {k: [] for k in (*names, "tokens", "stream_searches")}
        verdicts: list[str] = []
        for _ in range(args.repeats):
            for prompt in prompts:
                sync(device)
                t = time.perf_counter()
                plain = gen.generate(prompt, params)
                sync(device)
                rows["plain_s"].append(time.perf_counter() - t)
                rows["tokens"].append(plain.usage.completion_tokens)

                before = attributor.seconds
                t = time.perf_counter()
                done = agen.generate(prompt, params)
                sync(device)
                rows["attr_total_s"].append(time.perf_counter() - t)
                rows["attr_search_s"].append(attributor.seconds - before)
                att = done.choices[0].attribution
                verdicts.append(att["verdict"] if att else "?")

                before, searches = attributor.seconds, attributor.searches
                t = time.perf_counter()
                collections.deque(agen.stream(prompt, params), maxlen=0)  # run the stream to its end
                sync(device)
                rows["stream_total_s"].append(time.perf_counter() - t)
                rows["stream_search_s"].append(attributor.seconds - before)
                rows["stream_searches"].append(attributor.searches - searches)

        # Real code of the same length, searched directly: what attribution costs when the model
        # writes code that is in the index (random weights do not).
        window_s = []
        for p in files:
            ids = gen.tokenizer(p.read_text(), add_special_tokens=False).input_ids
            text = gen.tokenizer.decode(ids[100 : 100 + args.tokens])
            t = time.perf_counter()
            search_mod.search(store, text, documents=attributor.documents)
            window_s.append(time.perf_counter() - t)

    tokens = sum(rows["tokens"])
    plain_s = sum(rows["plain_s"])
    attr_gen_s = sum(rows["attr_total_s"]) - sum(rows["attr_search_s"])
    stream_gen_s = sum(rows["stream_total_s"]) - sum(rows["stream_search_s"])
    result = {
        "model": gen.name,
        "device": device,
        "dtype": gen.dtype,
        "load_s": round(load_s, 2),
        "index_documents": stats["documents"],
        "index_source_mb": round(stats["source_bytes"] / 1e6, 1),
        "index_mb": round(stats["index_bytes"] / 1e6, 1),
        "completions": len(rows["tokens"]),
        "tokens_per_completion": round(tokens / len(rows["tokens"]), 1),
        "tokens_per_s_plain": round(tokens / plain_s, 1),
        "tokens_per_s_attributed": round(tokens / sum(rows["attr_total_s"]), 1),
        "tokens_per_s_streamed_attributed": round(tokens / sum(rows["stream_total_s"]), 1),
        "attribution_ms_per_completion": round(1000 * statistics.mean(rows["attr_search_s"]), 2),
        "attribution_share": round(sum(rows["attr_search_s"]) / attr_gen_s, 4),
        "streaming_searches_per_completion": round(statistics.mean(rows["stream_searches"]), 1),
        "streaming_attribution_share": round(sum(rows["stream_search_s"]) / stream_gen_s, 4),
        "real_code_window_search_ms": round(1000 * statistics.mean(window_s), 2),
        "verdicts": {v: verdicts.count(v) for v in sorted(set(verdicts))},
    }
    shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"model {result['model']} on {device} ({gen.dtype}), loaded in {result['load_s']} s")
    print(
        f"index: {result['index_documents']} documents, {result['index_source_mb']} MB of source, "
        f"{result['index_mb']} MB index"
    )
    print(f"{result['completions']} completions of {result['tokens_per_completion']} tokens (greedy)")
    print(f"  tokens/s, generation only       {result['tokens_per_s_plain']}")
    print(f"  tokens/s, attributed            {result['tokens_per_s_attributed']}")
    print(f"  tokens/s, streamed + attributed {result['tokens_per_s_streamed_attributed']}")
    print(
        f"  attribution: {result['attribution_ms_per_completion']} ms per completion = "
        f"{100 * result['attribution_share']:.2f} % of generation time (target <= 5 %)"
    )
    print(
        f"  streaming: {result['streaming_searches_per_completion']} searches per completion = "
        f"{100 * result['streaming_attribution_share']:.2f} % of generation time"
    )
    print(f"  search of a {args.tokens}-token window of real code: {result['real_code_window_search_ms']} ms")
    print(f"  verdicts: {result['verdicts']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
