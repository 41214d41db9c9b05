#!/usr/bin/python3
"""Times the PyTorch reference Engram layer (scripts/reference/engram_reference.py, the default
config, random weights) on L tokens, with a given number of threads, for BENCHMARKS.md.

  /usr/bin/python3 scripts/reference/bench_engram_torch.py --tokenizer .cache/tokenizers/deepseek_v3 \
      --tokens 4096 --threads 2 [--reps 5] [--json]

The timed region is the module's forward (hashing, embedding, projections, gating, ShortConv), as
`ttlm bench engram` times ttlm's; the compressed-tokenizer table is built once, outside it.
"""
import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np
import torch

import engram_reference as ref


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--tokens", type=int, default=4096)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--layer-id", type=int, default=1)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    cfg = ref.EngramConfig()
    tok = ref.HFTokenizerFile(a.tokenizer)
    lookup, n = ref.build_lookup_table(tok)
    mapping = ref.NgramHashMapping(cfg, lookup, n)
    torch.manual_seed(0)
    module = ref.Engram(cfg, mapping, a.layer_id).eval()
    rng = np.random.default_rng(1)
    input_ids = rng.integers(0, len(lookup), size=(1, a.tokens), dtype=np.int64)
    hidden = torch.randn(1, a.tokens, cfg.hc_mult, cfg.hidden_size)
    times = []
    with torch.no_grad():
        module(hidden, input_ids)  # warm-up
        for _ in range(a.reps):
            t0 = time.perf_counter()
            module(hidden, input_ids)
            times.append((time.perf_counter() - t0) * 1e3)
    ms = statistics.median(times)
    if a.json:
        print(json.dumps({"tokens": a.tokens, "threads": a.threads, "torch_ms": round(ms, 3)}))
    else:
        print(f"PyTorch reference Engram layer {a.layer_id}: {a.tokens} tokens, {a.threads} threads: {ms:.3f} ms "
              f"(median of {a.reps})")


if __name__ == "__main__":
    main()
