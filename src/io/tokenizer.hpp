// HuggingFace tokenizer.json tokenizers (byte-level BPE and its relatives), encoding and decoding
// exactly as HF's Rust `tokenizers` library does, with the BOS/EOS rule of Python `transformers`.
//
// Supported components (anything else is rejected at load with an error naming the component):
//   model          BPE (vocab; merges as "a b" strings or ["a", "b"] pairs; unk_token, fuse_unk,
//                  byte_fallback, continuing_subword_prefix, end_of_word_suffix, ignore_merges)
//   normalizer     NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents, Replace, Prepend, Sequence
//   pre_tokenizer  Split (regex or literal; all five behaviors; invert), ByteLevel, Digits,
//                  Metaspace, Sequence
//   post_processor TemplateProcessing, RobertaProcessing, BertProcessing, ByteLevel, Sequence
//   decoder        ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace, Sequence
// Added tokens are matched before the model (leftmost, then longest), with their lstrip, rstrip,
// single_word and normalized flags. Split regexes follow Oniguruma's syntax, as HF compiles them
// (see tokenizer_regex.hpp). tokenizer.json's truncation and padding are ignored, as transformers'
// plain encode ignores them.
//
// A Tokenizer is immutable after loading and safe to use from many threads at once; copies share
// their state.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ttlm::io {

class Tokenizer {
   public:
    // `path` is a tokenizer.json file, or a folder holding tokenizer.json and, optionally,
    // tokenizer_config.json. The config supplies what transformers reads from it:
    //   add_bos_token / add_eos_token: when either is present, encode(..., true) gives
    //     [bos if add_bos_token] + ids + [eos if add_eos_token], replacing tokenizer.json's
    //     post-processor (as LlamaTokenizerFast does; DeepSeek-V3: [0, ...]);
    //   bos_token / eos_token: the tokens bos_id() and eos_id() name;
    //   clean_up_tokenization_spaces: decode() removes spaces before punctuation (default false).
    // A tokenizer.json file given alone behaves as HF's Tokenizer::from_file: only its own
    // post-processor adds special tokens.
    // Throws std::system_error when a file cannot be read and ttlm::io::FormatError (naming the file
    // and the field) when its content is not a tokenizer ttlm supports.
    static Tokenizer from_file(const std::string& path);

    // The same from the files' contents; `config_json` may be empty (no tokenizer_config.json).
    // `source` names the tokenizer in error messages.
    static Tokenizer from_json(std::string_view tokenizer_json, std::string_view config_json = {},
                               std::string_view source = "tokenizer.json");

    // Token ids of `text`, which must be valid UTF-8 (std::invalid_argument naming the byte offset
    // otherwise). Added tokens in the text are always recognized; `add_special_tokens` adds the
    // post-processor's (or the config's) BOS/EOS.
    std::vector<int64_t> encode(std::string_view text, bool add_special_tokens = true) const;

    // UTF-8 text of `ids`; byte sequences that are not valid UTF-8 become U+FFFD, as Rust's
    // String::from_utf8_lossy in the ByteLevel decoder. Throws std::out_of_range for an id that
    // names no token.
    std::string decode(std::span<const int64_t> ids, bool skip_special_tokens = false) const;

    // The raw token string ("Ġthe"), or an added token's content; std::out_of_range if no token has `id`.
    std::string id_to_token(int64_t id) const;
    std::optional<int64_t> token_to_id(std::string_view token) const;

    // transformers' len(tokenizer): one more than the largest id of the vocabulary and the added
    // tokens (128815 for DeepSeek-V3).
    int64_t size() const;

    std::optional<int64_t> bos_id() const;
    std::optional<int64_t> eos_id() const;

    ~Tokenizer();
    Tokenizer(const Tokenizer&);
    Tokenizer& operator=(const Tokenizer&);
    Tokenizer(Tokenizer&&) noexcept;
    Tokenizer& operator=(Tokenizer&&) noexcept;

   private:
    struct Impl;
    explicit Tokenizer(std::shared_ptr<const Impl> impl);
    std::shared_ptr<const Impl> impl_;
};

}  // namespace ttlm::io
