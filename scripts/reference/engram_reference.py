#!/usr/bin/python3
"""Independent PyTorch/numpy re-implementation of DeepSeek's Engram reference, engram_demo_v1.py
(github.com/deepseek-ai/Engram, mirrored in zoecarver/Engram), followed line by line.

It produces the golden files ttlm's C++ port is tested against, so it imports no ttlm code and no
`transformers`/`tokenizers` (not installable here): the pieces of those libraries the reference
relies on are rewritten below from their documented semantics.

  - CompressedTokenizer: HF `tokenizers` decode (ByteLevel decoder, added tokens first) and the
    normalizer Sequence NFKC, NFD, StripAccents, Lowercase, Replace([ \\t\\r\\n]+ -> " "),
    Replace(^ $ -> U+E000), Strip, Replace(U+E000 -> " ").
  - NgramHashMapping: numpy default_rng multipliers, sympy primes, shifted XOR hashing.
  - Engram: multi-head embedding, key/value projections, gating, ShortConv, output.

torch 1.13 has no nn.RMSNorm, so RMSNorm is written out as torch 2.x computes it:
x * rsqrt(mean(x^2) + eps) * weight, with eps=None meaning finfo(float32).eps (norm1, norm2) and
eps=1e-5 for ShortConv's norms.

Run with Debian's /usr/bin/python3 (torch 1.13, numpy 1.24, sympy). Sub-commands:

  numpy-random --out FILE.json
      raw PCG64 outputs and Generator.integers draws for many seeds and ranges.
  normalize --out FILE.json TEXT...
      the CompressedTokenizer normalizer on each TEXT.
  lookup-table --tokenizer DIR --out FILE.npy [--dtype int32|int64]
      the old id -> new id table over all ids; prints the number of new ids.
  hash --config CFG.json --tokenizer DIR --input-ids IDS.json --out DIR
      config.json, hash_config.json and cases.json: compressed ids and hash ids of every layer for a JSON list of
      {name, input_ids: [B][T], ...} (no weights, so it runs with the default config).
  forward --config CFG.json --tokenizer DIR --layer-id N --input-ids IDS.npy --out DIR
          [--weights W.safetensors] [--hidden-states H.npy] [--torch-seed S] [--random-norms]
      the whole Engram module, every stage written as .npy (see write_forward_outputs).
"""

import argparse
import json
import math
import os
import re
import struct
import sys
import unicodedata
from dataclasses import dataclass, field, asdict, fields
from typing import Dict, List

import numpy as np
import torch
import torch.nn as nn
from sympy import isprime


# --------------------------------------------------------------------------------------------
# Configuration (EngramConfig + the backbone fields the module reads)

@dataclass
class EngramConfig:
    engram_vocab_size: List[int] = field(default_factory=lambda: [129280 * 5, 129280 * 5])
    max_ngram_size: int = 3
    n_embed_per_ngram: int = 512
    n_head_per_ngram: int = 8
    layer_ids: List[int] = field(default_factory=lambda: [1, 15])
    pad_id: int = 2
    seed: int = 0
    kernel_size: int = 4
    hidden_size: int = 1024
    hc_mult: int = 4


def load_config(path):
    with open(path) as f:
        raw = json.load(f)
    known = {f.name for f in fields(EngramConfig)}
    unknown = set(raw) - known
    if unknown:
        raise SystemExit(f"{path}: unknown config fields {sorted(unknown)}; expected a subset of {sorted(known)}")
    return EngramConfig(**raw)


# --------------------------------------------------------------------------------------------
# tokenizer.json, decoded as HF `tokenizers` does

def bytes_to_unicode():
    """GPT-2's byte <-> printable character map used by the ByteLevel pre-tokenizer/decoder."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    bs += list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


CHAR_TO_BYTE = {c: b for b, c in bytes_to_unicode().items()}


class HFTokenizerFile:
    """The parts of tokenizer.json that decode([id]) and convert_ids_to_tokens(id) need."""

    def __init__(self, path):
        if os.path.isdir(path):
            path = os.path.join(path, "tokenizer.json")
        with open(path, encoding="utf-8") as f:
            tok = json.load(f)
        if tok.get("decoder", {}).get("type") != "ByteLevel":
            raise SystemExit(f"{path}: expected a ByteLevel decoder, got {tok.get('decoder')}")
        self.id_to_model_token = {i: t for t, i in tok["model"]["vocab"].items()}
        # Added tokens take precedence over the model vocabulary (AddedVocabulary::simple_id_to_token).
        self.id_to_added_token = {a["id"]: a["content"] for a in tok["added_tokens"]}
        self.size = max(max(self.id_to_model_token), max(self.id_to_added_token)) + 1  # len(tokenizer)

    def id_to_token(self, tid):
        if tid in self.id_to_added_token:
            return self.id_to_added_token[tid]
        return self.id_to_model_token[tid]

    def decode_one(self, tid):
        """decode([tid], skip_special_tokens=False): the ByteLevel decoder maps each character back to its
        byte; a token with a character outside the map contributes its own UTF-8 bytes; then UTF-8 with
        invalid sequences replaced by U+FFFD (String::from_utf8_lossy)."""
        token = self.id_to_token(tid)
        if all(c in CHAR_TO_BYTE for c in token):
            data = bytes(CHAR_TO_BYTE[c] for c in token)
        else:
            data = token.encode("utf-8")
        return data.decode("utf-8", errors="replace")


# --------------------------------------------------------------------------------------------
# CompressedTokenizer

SENTINEL = "\uE000"
# Rust's char::is_whitespace (Unicode White_Space), which tokenizers' Strip uses. Python's str.strip()
# also strips U+001C..U+001F, so it is not used.
RUST_WHITESPACE = frozenset(
    "\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000")
WHITESPACE_RUN = re.compile(r"[ \t\r\n]+")


def rust_strip(s):
    begin, end = 0, len(s)
    while begin < end and s[begin] in RUST_WHITESPACE:
        begin += 1
    while end > begin and s[end - 1] in RUST_WHITESPACE:
        end -= 1
    return s[begin:end]


def normalize(text):
    s = unicodedata.normalize("NFKC", text)
    s = unicodedata.normalize("NFD", s)
    s = "".join(c for c in s if unicodedata.category(c) not in ("Mn", "Mc", "Me"))  # StripAccents
    s = "".join(c.lower() for c in s)  # per character: tokenizers' Lowercase has no final-sigma rule
    s = WHITESPACE_RUN.sub(" ", s)
    if s == " ":  # Replace(Regex("^ $"), SENTINEL): after the previous step no newline is left
        s = SENTINEL
    s = rust_strip(s)
    return s.replace(SENTINEL, " ")


def build_lookup_table(tokenizer):
    key_to_new = {}
    lookup = np.empty(tokenizer.size, dtype=np.int64)
    for tid in range(tokenizer.size):
        text = tokenizer.decode_one(tid)
        if "\ufffd" in text:
            key = tokenizer.id_to_token(tid)
        else:
            norm = normalize(text)
            key = norm if norm else text
        nid = key_to_new.get(key)
        if nid is None:
            nid = len(key_to_new)
            key_to_new[key] = nid
        lookup[tid] = nid
    return lookup, len(key_to_new)


def compress(lookup, input_ids):
    arr = np.asarray(input_ids, dtype=np.int64)
    out = arr.copy()
    mask = arr >= 0
    out[mask] = lookup[arr[mask]]
    return out


# --------------------------------------------------------------------------------------------
# NgramHashMapping

def find_next_prime(start, seen):
    candidate = start + 1
    while True:
        if isprime(candidate) and candidate not in seen:
            return candidate
        candidate += 1


class NgramHashMapping:
    def __init__(self, cfg, lookup, num_new_ids):
        self.cfg = cfg
        self.lookup = lookup
        self.tokenizer_vocab_size = num_new_ids
        self.pad_id = int(lookup[cfg.pad_id])
        max_long = np.iinfo(np.int64).max
        m_max = int(max_long // self.tokenizer_vocab_size)
        half_bound = max(1, m_max // 2)
        self.layer_multipliers = {}
        for layer_id in cfg.layer_ids:
            g = np.random.default_rng(int(cfg.seed + 10007 * int(layer_id)))
            r = g.integers(low=0, high=half_bound, size=(cfg.max_ngram_size,), dtype=np.int64)
            self.layer_multipliers[layer_id] = r * 2 + 1
        seen = set()
        self.primes = {}  # layer id -> [ngram order][head]
        for layer_id in cfg.layer_ids:
            per_order = []
            for n in range(2, cfg.max_ngram_size + 1):
                start = cfg.engram_vocab_size[n - 2] - 1
                heads = []
                for _ in range(cfg.n_head_per_ngram):
                    p = find_next_prime(start, seen)
                    seen.add(p)
                    heads.append(p)
                    start = p
                per_order.append(heads)
            self.primes[layer_id] = per_order

    def head_sizes(self, layer_id):
        return [p for order in self.primes[layer_id] for p in order]

    def ngram_hashes(self, compressed_ids, layer_id):
        x = np.asarray(compressed_ids, dtype=np.int64)
        B, T = x.shape
        multipliers = self.layer_multipliers[layer_id]

        def shift_k(k):
            if k == 0:
                return x
            return np.pad(x, ((0, 0), (k, 0)), mode="constant", constant_values=self.pad_id)[:, :T]

        shifts = [shift_k(k) for k in range(self.cfg.max_ngram_size)]
        hashes = []
        for n in range(2, self.cfg.max_ngram_size + 1):
            mix = shifts[0] * multipliers[0]
            for k in range(1, n):
                mix = np.bitwise_xor(mix, shifts[k] * multipliers[k])
            for mod in self.primes[layer_id][n - 2]:
                hashes.append((mix % int(mod)).astype(np.int64, copy=False))
        return np.stack(hashes, axis=2)

    def config_json(self):
        """hash_config.json: the same layout ttlm's write_hash_config_json writes."""
        layers = []
        for layer_id in self.cfg.layer_ids:
            sizes = self.head_sizes(layer_id)
            layers.append({
                "layer_id": int(layer_id),
                "multipliers": [int(m) for m in self.layer_multipliers[layer_id]],
                "primes": [[int(p) for p in order] for order in self.primes[layer_id]],
                "offsets": [int(o) for o in np.concatenate([[0], np.cumsum(sizes)[:-1]])],
            })
        return {
            "format": "ttlm.engram.hash_config",
            "version": 1,
            "tokenizer_vocab_size": int(self.tokenizer_vocab_size),
            "pad_id": int(self.cfg.pad_id),
            "compressed_pad_id": int(self.pad_id),
            "seed": int(self.cfg.seed),
            "max_ngram_size": int(self.cfg.max_ngram_size),
            "n_head_per_ngram": int(self.cfg.n_head_per_ngram),
            "engram_vocab_size": [int(v) for v in self.cfg.engram_vocab_size],
            "layers": layers,
        }


# --------------------------------------------------------------------------------------------
# The Engram module (state_dict names equal to the reference's)

class RMSNorm(nn.Module):
    def __init__(self, dim, eps=None):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        eps = torch.finfo(x.dtype).eps if self.eps is None else self.eps
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * self.weight


class ShortConv(nn.Module):
    def __init__(self, hidden_size, kernel_size, dilation, norm_eps=1e-5, hc_mult=4):
        super().__init__()
        self.hc_mult = hc_mult
        total_channels = hidden_size * hc_mult
        self.conv = nn.Conv1d(total_channels, total_channels, kernel_size=kernel_size, groups=total_channels,
                              bias=False, padding=(kernel_size - 1) * dilation, dilation=dilation)
        self.norms = nn.ModuleList([RMSNorm(hidden_size, eps=norm_eps) for _ in range(hc_mult)])
        self.act_fn = nn.SiLU()

    def forward(self, x):
        B, T, G, C = x.shape
        assert G == self.hc_mult
        x_norm = torch.cat([self.norms[i](x[:, :, i, :]) for i in range(G)], dim=-1)
        y = self.conv(x_norm.transpose(1, 2))[..., :T]
        y = self.act_fn(y)
        return y.transpose(1, 2).view(B, T, G, C).contiguous()


class MultiHeadEmbedding(nn.Module):
    def __init__(self, list_of_n, dim):
        super().__init__()
        offsets = [0]
        for n in list_of_n[:-1]:
            offsets.append(offsets[-1] + n)
        self.register_buffer("offsets", torch.tensor(offsets, dtype=torch.long))
        self.embedding = nn.Embedding(num_embeddings=sum(list_of_n), embedding_dim=dim)

    def forward(self, input_ids):
        return self.embedding(input_ids + self.offsets)


class Engram(nn.Module):
    def __init__(self, cfg, hash_mapping, layer_id):
        super().__init__()
        self.cfg = cfg
        self.layer_id = layer_id
        self.hash_mapping = hash_mapping
        self.multi_head_embedding = MultiHeadEmbedding(hash_mapping.head_sizes(layer_id),
                                                       cfg.n_embed_per_ngram // cfg.n_head_per_ngram)
        self.short_conv = ShortConv(cfg.hidden_size, cfg.kernel_size, dilation=cfg.max_ngram_size, hc_mult=cfg.hc_mult)
        engram_hidden_size = (cfg.max_ngram_size - 1) * cfg.n_embed_per_ngram
        self.value_proj = nn.Linear(engram_hidden_size, cfg.hidden_size)
        self.key_projs = nn.ModuleList([nn.Linear(engram_hidden_size, cfg.hidden_size) for _ in range(cfg.hc_mult)])
        self.norm1 = nn.ModuleList([RMSNorm(cfg.hidden_size) for _ in range(cfg.hc_mult)])
        self.norm2 = nn.ModuleList([RMSNorm(cfg.hidden_size) for _ in range(cfg.hc_mult)])

    def forward(self, hidden_states, input_ids):
        """Returns every stage, not just the output."""
        stages = {}
        stages["compressed_ids"] = compress(self.hash_mapping.lookup, input_ids)
        stages["hash_ids"] = self.hash_mapping.ngram_hashes(stages["compressed_ids"], self.layer_id)
        embeddings = self.multi_head_embedding(torch.from_numpy(stages["hash_ids"])).flatten(start_dim=-2)
        gates = []
        for hc in range(self.cfg.hc_mult):
            key = self.key_projs[hc](embeddings)
            normed_key = self.norm1[hc](key)
            normed_query = self.norm2[hc](hidden_states[:, :, hc, :])
            gate = (normed_key * normed_query).sum(dim=-1) / math.sqrt(self.cfg.hidden_size)
            gate = gate.abs().clamp_min(1e-6).sqrt() * gate.sign()
            gates.append(gate.sigmoid().unsqueeze(-1))
        gates = torch.stack(gates, dim=2)
        value = self.value_proj(embeddings)
        gated = gates * value.unsqueeze(2)
        conv = self.short_conv(gated)
        stages.update(embeddings=embeddings, value=value, gates=gates, gated=gated, conv=conv, output=gated + conv)
        return stages


# --------------------------------------------------------------------------------------------
# safetensors, written and read by hand (no safetensors package here)

SAFETENSORS_DTYPES = {torch.float32: "F32", torch.int64: "I64"}
SAFETENSORS_TORCH = {v: k for k, v in SAFETENSORS_DTYPES.items()}


def save_safetensors(path, tensors, metadata=None):
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        data = t.numpy().tobytes()
        header[name] = {"dtype": SAFETENSORS_DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * (-len(header_bytes) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)))
        f.write(header_bytes)
        for data in blobs:
            f.write(data)


def load_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        dtype = SAFETENSORS_TORCH[entry["dtype"]]
        arr = np.frombuffer(data[begin:end], dtype=torch.empty(0, dtype=dtype).numpy().dtype)
        out[name] = torch.from_numpy(arr.copy()).reshape(entry["shape"])
    return out


# --------------------------------------------------------------------------------------------
# Sub-commands

def cmd_numpy_random(args):
    """Bit-exact numpy references: raw PCG64 outputs and Generator.integers (int64) draws."""
    vocab = 98627
    half_bound = max(1, (np.iinfo(np.int64).max // vocab) // 2)
    # (low, high, size, endpoint), drawn in this order from one generator so the buffered 32-bit
    # half-words carry over between calls as they do in numpy.
    calls = [
        (0, half_bound, 3, False),            # the Engram multipliers' draw (64-bit Lemire)
        (0, 10, 5, False),                    # 32-bit Lemire, buffered halves
        (0, 2**32, 3, False),                 # rng == 0xFFFFFFFF: plain buffered 32-bit draws
        (-5, 5, 4, False),                    # negative low
        (7, 8, 3, False),                     # rng == 0: no draw at all
        (0, 2**40 + 3, 3, False),             # 64-bit Lemire
        (0, 3 * 2**30, 16, False),            # 32-bit range with 25% rejections
        (-2**63, 2**62, 16, False),           # 64-bit range with 25% rejections
        (-2**63, 2**63 - 1, 3, True),         # full int64 range: rng == 0xFFFF...FFFF, next_uint64
        (0, 7, 1, False),                     # one 32-bit draw leaves half a word buffered ...
        (0, 2**40, 2, False),                 # ... which 64-bit draws do not consume ...
        (0, 7, 3, False),                     # ... and the next 32-bit draw does.
        (0, 2**31, 40, False),
    ]
    seeds = [0, 1, 2, 42, 10007, 20014, 150105, 2**32 - 1, 2**32, 12345678901234, 2**64 - 1]
    cases = []
    for seed in seeds:
        ss = np.random.SeedSequence(seed)
        raw = np.random.PCG64(seed).random_raw(8)
        g = np.random.default_rng(seed)
        draws = []
        for low, high, size, endpoint in calls:
            out = g.integers(low, high, size=size, dtype=np.int64, endpoint=endpoint)
            draws.append({"low": low, "high": high, "size": size, "endpoint": endpoint,
                          "values": [int(v) for v in out]})
        cases.append({
            "seed": seed,
            "pool": [int(v) for v in ss.pool],
            "state_u32": [int(v) for v in ss.generate_state(8, np.uint32)],
            "state_u64": [int(v) for v in ss.generate_state(4, np.uint64)],
            "random_raw": [int(v) for v in raw],
            "integers": draws,
        })
    # Many independent draws of the multipliers' kind, one generator per seed.
    multiplier_draws = []
    for seed in range(0, 40):
        g = np.random.default_rng(seed * 10007 + 3)
        multiplier_draws.append({"seed": seed * 10007 + 3, "high": half_bound,
                                 "values": [int(v) for v in g.integers(0, half_bound, size=4, dtype=np.int64)]})
    doc = {"numpy_version": np.__version__, "cases": cases, "multiplier_draws": multiplier_draws}
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


def cmd_normalize(args):
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump([{"text": t, "normalized": normalize(t)} for t in args.texts], f, ensure_ascii=True, indent=1)
        f.write("\n")


def cmd_lookup_table(args):
    tok = HFTokenizerFile(args.tokenizer)
    lookup, n = build_lookup_table(tok)
    np.save(args.out, lookup.astype(args.dtype))
    print(json.dumps({"entries": int(tok.size), "num_new_ids": int(n)}))


def cmd_hash(args):
    cfg = load_config(args.config)
    tok = HFTokenizerFile(args.tokenizer)
    lookup, n = build_lookup_table(tok)
    mapping = NgramHashMapping(cfg, lookup, n)
    with open(args.input_ids) as f:
        cases = json.load(f)
    out_cases = []
    for case in cases:
        compressed = compress(lookup, np.asarray(case["input_ids"], dtype=np.int64))
        out = dict(case)
        out["compressed_ids"] = compressed.tolist()
        out["hash_ids"] = {str(layer): mapping.ngram_hashes(compressed, layer).tolist() for layer in cfg.layer_ids}
        out_cases.append(out)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(asdict(cfg), f, indent=1)
        f.write("\n")
    with open(os.path.join(args.out, "hash_config.json"), "w") as f:
        json.dump(mapping.config_json(), f, indent=1)
        f.write("\n")
    with open(os.path.join(args.out, "cases.json"), "w", encoding="utf-8") as f:
        json.dump(out_cases, f, ensure_ascii=True, separators=(",", ":"))
        f.write("\n")


def cmd_forward(args):
    cfg = load_config(args.config)
    if args.layer_id not in cfg.layer_ids:
        raise SystemExit(f"--layer-id {args.layer_id} is not in the config's layer_ids {cfg.layer_ids}")
    tok = HFTokenizerFile(args.tokenizer)
    lookup, n = build_lookup_table(tok)
    mapping = NgramHashMapping(cfg, lookup, n)

    torch.manual_seed(args.torch_seed)
    module = Engram(cfg, mapping, args.layer_id)
    if args.weights:
        module.load_state_dict(load_safetensors(args.weights), strict=True)
    elif args.random_norms:
        # The reference initialises every RMSNorm weight to 1; non-unit weights catch a port that drops them.
        with torch.no_grad():
            for name, p in module.named_parameters():
                if "norm" in name:
                    p.uniform_(0.5, 1.5)
    input_ids = np.load(args.input_ids)
    if input_ids.dtype != np.int64 or input_ids.ndim != 2:
        raise SystemExit(f"{args.input_ids}: expected int64 [B, T], got {input_ids.dtype} {list(input_ids.shape)}")
    B, T = input_ids.shape
    if args.hidden_states:
        hidden_states = torch.from_numpy(np.load(args.hidden_states))
    else:
        hidden_states = torch.randn(B, T, cfg.hc_mult, cfg.hidden_size)

    with torch.no_grad():
        stages = module(hidden_states, input_ids)

    os.makedirs(args.out, exist_ok=True)
    save = lambda name, arr: np.save(os.path.join(args.out, name + ".npy"), arr)
    save("input_ids", input_ids)
    save("compressed_ids", stages["compressed_ids"])
    save("hash_ids", stages["hash_ids"])
    for name in ("embeddings", "value", "gates", "gated", "conv", "output"):
        save(name, stages[name].numpy().astype(np.float32))
    save("hidden_states", hidden_states.numpy().astype(np.float32))
    if not args.no_lookup_table:
        save("lookup_table", lookup)
    with open(os.path.join(args.out, "hash_config.json"), "w") as f:
        json.dump(mapping.config_json(), f, indent=1)
        f.write("\n")
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(asdict(cfg), f, indent=1)
        f.write("\n")
    with open(os.path.join(args.out, "run.json"), "w") as f:
        json.dump({"layer_id": args.layer_id, "torch_seed": args.torch_seed, "random_norms": args.random_norms,
                   "weights": os.path.basename(args.weights) if args.weights else None}, f, indent=1)
        f.write("\n")
    save_safetensors(os.path.join(args.out, "weights.safetensors"), module.state_dict(),
                     metadata={"source": "scripts/reference/engram_reference.py", "layer_id": str(args.layer_id)})


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    default_tokenizer = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".cache", "tokenizers",
                                     "deepseek_v3")

    p = sub.add_parser("numpy-random")
    p.add_argument("--out", required=True)
    p.set_defaults(fn=cmd_numpy_random)

    p = sub.add_parser("normalize")
    p.add_argument("--out", required=True)
    p.add_argument("texts", nargs="+")
    p.set_defaults(fn=cmd_normalize)

    p = sub.add_parser("lookup-table")
    p.add_argument("--tokenizer", default=default_tokenizer)
    p.add_argument("--out", required=True)
    p.add_argument("--dtype", choices=["int32", "int64"], default="int64")
    p.set_defaults(fn=cmd_lookup_table)

    p = sub.add_parser("hash")
    p.add_argument("--config", required=True)
    p.add_argument("--tokenizer", default=default_tokenizer)
    p.add_argument("--input-ids", required=True, help="JSON list of {name, input_ids: [B][T], ...}")
    p.add_argument("--out", required=True)
    p.set_defaults(fn=cmd_hash)

    p = sub.add_parser("forward")
    p.add_argument("--config", required=True)
    p.add_argument("--tokenizer", default=default_tokenizer)
    p.add_argument("--layer-id", type=int, required=True)
    p.add_argument("--input-ids", required=True, help=".npy, int64 [B, T] original token ids")
    p.add_argument("--out", required=True)
    p.add_argument("--weights", help="safetensors with the reference's state_dict names; else random (torch seed)")
    p.add_argument("--hidden-states", help=".npy float32 [B, T, hc_mult, hidden_size]; else random (torch seed)")
    p.add_argument("--torch-seed", type=int, default=0)
    p.add_argument("--random-norms", action="store_true", help="draw RMSNorm weights from U(0.5, 1.5) instead of 1")
    p.add_argument("--no-lookup-table", action="store_true", help="do not write lookup_table.npy (1 MB)")
    p.set_defaults(fn=cmd_forward)

    args = parser.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
