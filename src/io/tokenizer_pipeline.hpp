// The configurable steps of a tokenizer.json pipeline (internal): normalizers, pre-tokenizers,
// decoders and post-processors, each built from its JSON object and behaving as the component of
// the same name in HuggingFace's Rust `tokenizers`.
//
// HF tracks full byte alignments between the original and the normalized text; ttlm keeps only
// what changes ids: the text of each piece, and whether the piece starts at the very beginning of
// the input (Metaspace's prepend_scheme "first" reads that).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/tokenizer_json.hpp"

namespace ttlm::io::tokenizer_impl {

struct Piece {
    std::string text;
    bool at_text_start = false;  // the piece's first character is the input's first character
};
using Pieces = std::vector<Piece>;

class Normalizer {
   public:
    virtual ~Normalizer() = default;
    virtual void normalize(Piece& piece) const = 0;
};

class PreTokenizer {
   public:
    virtual ~PreTokenizer() = default;
    // Splits and rewrites the pieces; empty pieces are dropped, as HF drops them.
    virtual void pre_tokenize(Pieces& pieces) const = 0;
};

class Decoder {
   public:
    virtual ~Decoder() = default;
    // HF's decode_chain: token strings in, strings out; the tokenizer joins the result.
    virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

class PostProcessor {
   public:
    virtual ~PostProcessor() = default;
    // Adds the special tokens of a single sequence (only called when add_special_tokens is set).
    virtual void add_special_tokens(std::vector<int64_t>& ids) const = 0;
};

// Each returns nullptr for a JSON null and throws FormatError naming the field for an unknown or
// unsupported component type.
std::unique_ptr<Normalizer> make_normalizer(const JsonField& config);
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const JsonField& config);
std::unique_ptr<Decoder> make_decoder(const JsonField& config);
std::unique_ptr<PostProcessor> make_post_processor(const JsonField& config);

// `[prefix...] $A [suffix...]`: what transformers builds from tokenizer_config.json's
// add_bos_token / add_eos_token.
std::unique_ptr<PostProcessor> make_affix_post_processor(std::vector<int64_t> prefix, std::vector<int64_t> suffix);

}  // namespace ttlm::io::tokenizer_impl
