#include "io/tokenizer_pipeline.hpp"

#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <utility>

#include "io/tokenizer_regex.hpp"
#include "io/tokenizer_unicode.hpp"

namespace ttlm::io::tokenizer_impl {

namespace {

using Ranges = std::vector<std::pair<size_t, size_t>>;

[[noreturn]] void unsupported(const JsonField& config, std::string_view kind) {
    throw_format_error(config.where() + ": " + std::string(kind) + " type \"" + config.type() + "\" is not supported");
}

bool is_ascii(std::string_view text) {
    for (char c : text) {
        if (static_cast<unsigned char>(c) >= 0x80) return false;
    }
    return true;
}

// A Split/Replace pattern: {"String": "..."} (a literal) or {"Regex": "..."}.
class TextPattern {
   public:
    explicit TextPattern(const JsonField& config) {
        if (auto literal = config.find("String")) {
            literal_ = literal->as_string();
        } else if (auto regex = config.find("Regex")) {
            regex_.emplace(regex->as_string(), regex->where());
        } else {
            config.fail("an object with a \"String\" or a \"Regex\" member");
        }
    }

    void find_all(std::string_view text, Ranges& matches) const {
        if (regex_) {
            regex_->find_all(text, matches);
            return;
        }
        if (literal_.empty()) return;  // HF: an empty literal matches nothing
        for (size_t pos = text.find(literal_); pos != std::string_view::npos;
             pos = text.find(literal_, pos + literal_.size())) {
            matches.emplace_back(pos, pos + literal_.size());
        }
    }

   private:
    std::string literal_;
    std::optional<Regex> regex_;
};

// ---------------------------------------------------------------------------------------------
// Normalizers

class UnicodeNormalizer final : public Normalizer {
   public:
    explicit UnicodeNormalizer(int options) : options_(options) {}
    void normalize(Piece& piece) const override {
        if (is_ascii(piece.text)) return;  // every normalization form leaves ASCII as it is
        utf8proc_uint8_t* mapped = nullptr;
        const auto length = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(piece.text.data()),
                                         static_cast<utf8proc_ssize_t>(piece.text.size()), &mapped,
                                         static_cast<utf8proc_option_t>(options_));
        if (length < 0)
            throw std::runtime_error(std::string("Unicode normalization failed: ") + utf8proc_errmsg(length));
        piece.text.assign(reinterpret_cast<const char*>(mapped), static_cast<size_t>(length));
        std::free(mapped);
    }

   private:
    int options_;
};

class LowercaseNormalizer final : public Normalizer {
   public:
    void normalize(Piece& piece) const override {
        std::string out;
        out.reserve(piece.text.size());
        for (size_t pos = 0; pos < piece.text.size();) append_lowercase(out, next_char(piece.text, pos));
        piece.text = std::move(out);
    }
};

class StripNormalizer final : public Normalizer {
   public:
    StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
    void normalize(Piece& piece) const override {
        const std::string& text = piece.text;
        size_t begin = 0, end = text.size();
        if (left_) {
            for (size_t pos = 0; pos < end && is_white_space(next_char(text, pos));) begin = pos;
        }
        if (right_) {
            size_t pos = begin;
            size_t last_kept_end = begin;
            while (pos < end) {
                if (!is_white_space(next_char(text, pos))) last_kept_end = pos;
            }
            end = last_kept_end;
        }
        if (begin > 0) piece.at_text_start = false;
        piece.text = text.substr(begin, end - begin);
    }

   private:
    bool left_, right_;
};

class StripAccentsNormalizer final : public Normalizer {
   public:
    void normalize(Piece& piece) const override {
        std::string out;
        out.reserve(piece.text.size());
        bool removed_leading = false;
        for (size_t pos = 0; pos < piece.text.size();) {
            const size_t start = pos;
            if (is_mark(next_char(piece.text, pos))) {
                if (out.empty()) removed_leading = true;
                continue;
            }
            out.append(piece.text, start, pos - start);
        }
        if (removed_leading) piece.at_text_start = false;
        piece.text = std::move(out);
    }
};

class ReplaceNormalizer final : public Normalizer {
   public:
    explicit ReplaceNormalizer(const JsonField& config)
        : pattern_(config.at("pattern")), content_(config.at("content").as_string()) {}

    void normalize(Piece& piece) const override {
        if (piece.at_text_start) piece.at_text_start = keeps_text_start(piece.text);
        piece.text = replace(piece.text);
    }

    std::string replace(std::string_view text) const {
        Ranges matches;
        pattern_.find_all(text, matches);
        if (matches.empty()) return std::string(text);
        std::string out;
        out.reserve(text.size());
        size_t previous = 0;
        for (const auto& [begin, end] : matches) {
            out.append(text.substr(previous, begin - previous));
            out += content_;
            previous = end;
        }
        out.append(text.substr(previous));
        return out;
    }

   private:
    // HF aligns each inserted character with the last character it replaces, so a piece still
    // starts at the input's start only if a match there is one character replaced by something.
    bool keeps_text_start(std::string_view text) const {
        Ranges matches;
        pattern_.find_all(text, matches);
        if (matches.empty() || matches.front().first != 0) return true;
        const size_t end = matches.front().second;
        return !content_.empty() && end > 0 && utf8_length(static_cast<unsigned char>(text[0])) == end;
    }

    TextPattern pattern_;
    std::string content_;
};

class PrependNormalizer final : public Normalizer {
   public:
    explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
    void normalize(Piece& piece) const override {
        if (!piece.text.empty()) piece.text.insert(0, prefix_);
    }

   private:
    std::string prefix_;
};

class NormalizerSequence final : public Normalizer {
   public:
    explicit NormalizerSequence(std::vector<std::unique_ptr<Normalizer>> steps) : steps_(std::move(steps)) {}
    void normalize(Piece& piece) const override {
        for (const auto& step : steps_) step->normalize(piece);
    }

   private:
    std::vector<std::unique_ptr<Normalizer>> steps_;
};

// ---------------------------------------------------------------------------------------------
// Pre-tokenizers

enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

SplitBehavior parse_behavior(const JsonField& field) {
    const std::string name = field.as_string();
    if (name == "Removed") return SplitBehavior::Removed;
    if (name == "Isolated") return SplitBehavior::Isolated;
    if (name == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
    if (name == "MergedWithNext") return SplitBehavior::MergedWithNext;
    if (name == "Contiguous") return SplitBehavior::Contiguous;
    field.fail("one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous");
}

struct Segment {
    size_t begin, end;
    bool is_match;
};

// HF's NormalizedString::split: `matches` cover the text in order; the behavior decides what
// becomes of the matched (delimiter) segments. Non-empty results are appended to `out`.
void split_piece(const Piece& piece, const std::vector<Segment>& segments, SplitBehavior behavior, Pieces& out) {
    std::vector<std::pair<size_t, size_t>> kept;
    kept.reserve(segments.size());
    bool previous_match = false;
    switch (behavior) {
        case SplitBehavior::Isolated:
            for (const auto& s : segments) kept.emplace_back(s.begin, s.end);
            break;
        case SplitBehavior::Removed:
            for (const auto& s : segments) {
                if (!s.is_match) kept.emplace_back(s.begin, s.end);
            }
            break;
        case SplitBehavior::Contiguous:
            for (const auto& s : segments) {
                if (s.is_match == previous_match && !kept.empty()) {
                    kept.back().second = s.end;
                } else {
                    kept.emplace_back(s.begin, s.end);
                }
                previous_match = s.is_match;
            }
            break;
        case SplitBehavior::MergedWithPrevious:
            for (const auto& s : segments) {
                if (s.is_match && !previous_match && !kept.empty()) {
                    kept.back().second = s.end;
                } else {
                    kept.emplace_back(s.begin, s.end);
                }
                previous_match = s.is_match;
            }
            break;
        case SplitBehavior::MergedWithNext:
            for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
                if (it->is_match && !previous_match && !kept.empty()) {
                    kept.back().first = it->begin;
                } else {
                    kept.emplace_back(it->begin, it->end);
                }
                previous_match = it->is_match;
            }
            std::reverse(kept.begin(), kept.end());
            break;
    }
    for (const auto& [begin, end] : kept) {
        if (begin == end) continue;
        out.push_back({piece.text.substr(begin, end - begin), piece.at_text_start && begin == 0});
    }
}

// Turns sorted, non-overlapping match ranges into segments covering all of `length` bytes.
void cover(const Ranges& matches, size_t length, bool invert, std::vector<Segment>& segments) {
    segments.clear();
    size_t previous = 0;
    for (const auto& [begin, end] : matches) {
        if (previous != begin) segments.push_back({previous, begin, invert});
        segments.push_back({begin, end, !invert});
        previous = end;
    }
    if (previous != length) segments.push_back({previous, length, invert});
}

class SplitPreTokenizer final : public PreTokenizer {
   public:
    explicit SplitPreTokenizer(const JsonField& config)
        : pattern_(config.at("pattern")),
          behavior_(parse_behavior(config.at("behavior"))),
          invert_(config.bool_or("invert", false)) {}

    void pre_tokenize(Pieces& pieces) const override {
        Pieces out;
        out.reserve(pieces.size() * 2);
        Ranges matches;
        std::vector<Segment> segments;
        for (const Piece& piece : pieces) {
            matches.clear();
            pattern_.find_all(piece.text, matches);
            cover(matches, piece.text.size(), invert_, segments);
            split_piece(piece, segments, behavior_, out);
        }
        pieces = std::move(out);
    }

   private:
    TextPattern pattern_;
    SplitBehavior behavior_;
    bool invert_;
};

// Splits at characters for which `is_delimiter` holds, each such character being one match.
template <typename Predicate>
void split_at_chars(Pieces& pieces, Predicate is_delimiter, SplitBehavior behavior) {
    Pieces out;
    out.reserve(pieces.size() * 2);
    Ranges matches;
    std::vector<Segment> segments;
    for (const Piece& piece : pieces) {
        matches.clear();
        for (size_t pos = 0; pos < piece.text.size();) {
            const size_t start = pos;
            if (is_delimiter(next_char(piece.text, pos))) matches.emplace_back(start, pos);
        }
        cover(matches, piece.text.size(), false, segments);
        split_piece(piece, segments, behavior, out);
    }
    pieces = std::move(out);
}

class ByteLevelPreTokenizer final : public PreTokenizer {
   public:
    explicit ByteLevelPreTokenizer(const JsonField& config)
        : add_prefix_space_(config.bool_or("add_prefix_space", true)), use_regex_(config.bool_or("use_regex", true)) {}

    void pre_tokenize(Pieces& pieces) const override {
        if (add_prefix_space_) {
            for (Piece& piece : pieces) {
                if (!piece.text.empty() && piece.text[0] != ' ') piece.text.insert(0, 1, ' ');
            }
        }
        if (use_regex_) {
            Pieces out;
            out.reserve(pieces.size() * 4);
            Ranges matches;
            std::vector<Segment> segments;
            for (const Piece& piece : pieces) {
                matches.clear();
                gpt2_regex().find_all(piece.text, matches);
                cover(matches, piece.text.size(), false, segments);
                split_piece(piece, segments, SplitBehavior::Isolated, out);
            }
            pieces = std::move(out);
        }
        std::string mapped;
        for (Piece& piece : pieces) {
            mapped.clear();
            for (char byte : piece.text) mapped += byte_level_char(static_cast<unsigned char>(byte));
            piece.text.swap(mapped);
        }
    }

   private:
    static const Regex& gpt2_regex() {
        static const Regex regex("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
                                 "ByteLevel pre-tokenizer (GPT-2 pattern)");
        return regex;
    }

    bool add_prefix_space_, use_regex_;
};

class DigitsPreTokenizer final : public PreTokenizer {
   public:
    explicit DigitsPreTokenizer(const JsonField& config)
        : individual_digits_(config.bool_or("individual_digits", false)) {}
    void pre_tokenize(Pieces& pieces) const override {
        split_at_chars(pieces, is_numeric, individual_digits_ ? SplitBehavior::Isolated : SplitBehavior::Contiguous);
    }

   private:
    bool individual_digits_;
};

enum class PrependScheme { Always, First, Never };

// Metaspace's prepend scheme, honouring the legacy add_prefix_space field as HF's deserializer does.
PrependScheme parse_prepend_scheme(const JsonField& config) {
    std::optional<PrependScheme> scheme;
    if (auto field = config.find("prepend_scheme")) {
        const std::string name = field->as_string();
        if (name == "always")
            scheme = PrependScheme::Always;
        else if (name == "first")
            scheme = PrependScheme::First;
        else if (name == "never")
            scheme = PrependScheme::Never;
        else
            field->fail("one of always, first, never");
    }
    if (auto legacy = config.find("add_prefix_space"); legacy && !legacy->as_bool()) {
        if (scheme && *scheme != PrependScheme::Never) {
            throw_format_error(config.where() + ": add_prefix_space=false contradicts prepend_scheme");
        }
        scheme = PrependScheme::Never;
    }
    return scheme.value_or(PrependScheme::Always);
}

class MetaspacePreTokenizer final : public PreTokenizer {
   public:
    explicit MetaspacePreTokenizer(const JsonField& config)
        : replacement_(config.at("replacement").as_char()),
          prepend_scheme_(parse_prepend_scheme(config)),
          split_(config.bool_or("split", true)) {
        append_utf8(replacement_text_, replacement_);
    }

    void pre_tokenize(Pieces& pieces) const override {
        for (Piece& piece : pieces) {
            std::string replaced;
            replaced.reserve(piece.text.size() + 3);
            for (char c : piece.text) {
                if (c == ' ')
                    replaced += replacement_text_;
                else
                    replaced += c;
            }
            const bool starts_with_replacement = replaced.starts_with(replacement_text_);
            const bool prepend = !replaced.empty() && !starts_with_replacement &&
                                 (prepend_scheme_ == PrependScheme::Always ||
                                  (prepend_scheme_ == PrependScheme::First && piece.at_text_start));
            if (prepend) replaced.insert(0, replacement_text_);
            piece.text = std::move(replaced);
        }
        if (split_)
            split_at_chars(
                pieces, [this](char32_t c) { return c == replacement_; }, SplitBehavior::MergedWithNext);
    }

   private:
    char32_t replacement_;
    std::string replacement_text_;
    PrependScheme prepend_scheme_;
    bool split_;
};

class PreTokenizerSequence final : public PreTokenizer {
   public:
    explicit PreTokenizerSequence(std::vector<std::unique_ptr<PreTokenizer>> steps) : steps_(std::move(steps)) {}
    void pre_tokenize(Pieces& pieces) const override {
        for (const auto& step : steps_) step->pre_tokenize(pieces);
    }

   private:
    std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

// ---------------------------------------------------------------------------------------------
// Decoders

class ByteLevelDecoder final : public Decoder {
   public:
    void decode_chain(std::vector<std::string>& tokens) const override {
        std::string bytes;
        for (const std::string& token : tokens) {
            // A token made only of byte-level characters stands for those bytes; any other token
            // (an added token such as "<｜User｜>") stands for itself.
            const size_t start = bytes.size();
            bool all_mapped = true;
            for (size_t pos = 0; pos < token.size() && all_mapped;) {
                const int byte = byte_level_byte(next_char(token, pos));
                if (byte < 0)
                    all_mapped = false;
                else
                    bytes += static_cast<char>(byte);
            }
            if (!all_mapped) {
                bytes.resize(start);
                bytes += token;
            }
        }
        tokens.assign(1, utf8_lossy(bytes));
    }
};

class MetaspaceDecoder final : public Decoder {
   public:
    explicit MetaspaceDecoder(const JsonField& config)
        : replacement_(config.at("replacement").as_char()), prepend_scheme_(parse_prepend_scheme(config)) {}

    void decode_chain(std::vector<std::string>& tokens) const override {
        for (size_t i = 0; i < tokens.size(); ++i) {
            std::string out;
            out.reserve(tokens[i].size());
            for (size_t pos = 0; pos < tokens[i].size();) {
                const char32_t c = next_char(tokens[i], pos);
                if (c != replacement_)
                    append_utf8(out, c);
                else if (i != 0 || prepend_scheme_ == PrependScheme::Never)
                    out += ' ';
            }
            tokens[i] = std::move(out);
        }
    }

   private:
    char32_t replacement_;
    PrependScheme prepend_scheme_;
};

class ByteFallbackDecoder final : public Decoder {
   public:
    void decode_chain(std::vector<std::string>& tokens) const override {
        std::vector<std::string> out;
        out.reserve(tokens.size());
        std::string pending;  // bytes of consecutive <0xXX> tokens
        const auto flush = [&] {
            if (pending.empty()) return;
            // Unlike the ByteLevel decoder, an invalid run becomes one U+FFFD per byte.
            if (find_invalid_utf8(pending) == std::string::npos)
                out.push_back(pending);
            else
                out.insert(out.end(), pending.size(), "\xEF\xBF\xBD");
            pending.clear();
        };
        for (std::string& token : tokens) {
            if (const int byte = byte_token_value(token); byte >= 0) {
                pending += static_cast<char>(byte);
                continue;
            }
            flush();
            out.push_back(std::move(token));
        }
        flush();
        tokens = std::move(out);
    }

   private:
    static int byte_token_value(const std::string& token) {
        if (token.size() != 6 || !token.starts_with("<0x") || token[5] != '>') return -1;
        int value = 0;
        for (char c : token.substr(3, 2)) {
            const int digit = c >= '0' && c <= '9'   ? c - '0'
                              : c >= 'a' && c <= 'f' ? c - 'a' + 10
                              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                     : -1;
            if (digit < 0) return -1;
            value = value * 16 + digit;
        }
        return value;
    }
};

class FuseDecoder final : public Decoder {
   public:
    void decode_chain(std::vector<std::string>& tokens) const override {
        std::string joined;
        for (const std::string& token : tokens) joined += token;
        tokens.assign(1, std::move(joined));
    }
};

class StripDecoder final : public Decoder {
   public:
    explicit StripDecoder(const JsonField& config)
        : content_(config.at("content").as_char()), start_(count(config, "start")), stop_(count(config, "stop")) {}

    void decode_chain(std::vector<std::string>& tokens) const override {
        for (std::string& token : tokens) {
            std::vector<size_t> offsets;  // byte offset of each character, and the end
            for (size_t pos = 0; pos < token.size(); next_char(token, pos)) offsets.push_back(pos);
            const size_t chars = offsets.size();
            offsets.push_back(token.size());
            const auto char_at = [&](size_t i) {
                size_t pos = offsets[i];
                return next_char(token, pos);
            };
            size_t start_cut = 0;
            while (start_cut < std::min(start_, chars) && char_at(start_cut) == content_) ++start_cut;
            size_t stop_cut = chars;
            for (size_t i = 0; i < std::min(stop_, chars - start_cut); ++i) {
                if (char_at(chars - i - 1) != content_) break;
                stop_cut = chars - i - 1;
            }
            token = token.substr(offsets[start_cut], offsets[stop_cut] - offsets[start_cut]);
        }
    }

   private:
    static size_t count(const JsonField& config, std::string_view key) {
        const JsonField field = config.at(key);
        const int64_t value = field.as_int();
        if (value < 0) field.fail("a non-negative integer");
        return static_cast<size_t>(value);
    }

    char32_t content_;
    size_t start_, stop_;
};

class ReplaceDecoder final : public Decoder {
   public:
    explicit ReplaceDecoder(const JsonField& config) : replace_(config) {}
    void decode_chain(std::vector<std::string>& tokens) const override {
        for (std::string& token : tokens) token = replace_.replace(token);
    }

   private:
    ReplaceNormalizer replace_;
};

class DecoderSequence final : public Decoder {
   public:
    explicit DecoderSequence(std::vector<std::unique_ptr<Decoder>> steps) : steps_(std::move(steps)) {}
    void decode_chain(std::vector<std::string>& tokens) const override {
        for (const auto& step : steps_) step->decode_chain(tokens);
    }

   private:
    std::vector<std::unique_ptr<Decoder>> steps_;
};

// ---------------------------------------------------------------------------------------------
// Post-processors

class AffixPostProcessor final : public PostProcessor {
   public:
    AffixPostProcessor(std::vector<int64_t> prefix, std::vector<int64_t> suffix)
        : prefix_(std::move(prefix)), suffix_(std::move(suffix)) {}
    void add_special_tokens(std::vector<int64_t>& ids) const override {
        ids.insert(ids.begin(), prefix_.begin(), prefix_.end());
        ids.insert(ids.end(), suffix_.begin(), suffix_.end());
    }

   private:
    std::vector<int64_t> prefix_, suffix_;
};

class PostProcessorSequence final : public PostProcessor {
   public:
    explicit PostProcessorSequence(std::vector<std::unique_ptr<PostProcessor>> steps) : steps_(std::move(steps)) {}
    void add_special_tokens(std::vector<int64_t>& ids) const override {
        for (const auto& step : steps_) step->add_special_tokens(ids);
    }

   private:
    std::vector<std::unique_ptr<PostProcessor>> steps_;
};

// TemplateProcessing's `single` template: special tokens around sequence $A.
std::unique_ptr<PostProcessor> make_template_processing(const JsonField& config) {
    const JsonField single = config.at("single");
    const JsonField special_tokens = config.at("special_tokens");
    std::vector<int64_t> prefix, suffix;
    bool seen_sequence = false;
    for (size_t i = 0; i < single.array_size(); ++i) {
        const JsonField item = single.at(i);
        if (auto sequence = item.find("Sequence")) {
            const JsonField id = sequence->at("id");
            if (id.as_string() != "A") id.fail("\"A\" (the single-sequence template has no sequence B)");
            if (seen_sequence) item.fail("one $A in the single-sequence template");
            seen_sequence = true;
        } else if (auto special = item.find("SpecialToken")) {
            const std::string name = special->at("id").as_string();
            const JsonField ids = special_tokens.at(name).at("ids");
            for (size_t k = 0; k < ids.array_size(); ++k)
                (seen_sequence ? suffix : prefix).push_back(ids.at(k).as_int());
        } else {
            item.fail("an object with a \"Sequence\" or a \"SpecialToken\" member");
        }
    }
    if (!seen_sequence) single.fail("a template containing the sequence $A");
    return std::make_unique<AffixPostProcessor>(std::move(prefix), std::move(suffix));
}

// RobertaProcessing / BertProcessing: `cls $A sep`, each given as ["<s>", 0].
std::unique_ptr<PostProcessor> make_cls_sep_processing(const JsonField& config) {
    const auto token_id = [&](std::string_view key) {
        const JsonField pair = config.at(key);
        if (pair.array_size() != 2) pair.fail("a [token, id] pair");
        pair.at(0).as_string();
        return pair.at(1).as_int();
    };
    return std::make_unique<AffixPostProcessor>(std::vector<int64_t>{token_id("cls")},
                                                std::vector<int64_t>{token_id("sep")});
}

template <typename Component, typename Make>
std::vector<std::unique_ptr<Component>> make_all(const JsonField& list, Make make) {
    std::vector<std::unique_ptr<Component>> steps;
    for (size_t i = 0; i < list.array_size(); ++i) {
        if (auto step = make(list.at(i))) steps.push_back(std::move(step));
    }
    return steps;
}

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const JsonField& config) {
    if (config.is_null()) return nullptr;
    const std::string type = config.type();
    if (type == "NFC") return std::make_unique<UnicodeNormalizer>(UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (type == "NFD") return std::make_unique<UnicodeNormalizer>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE);
    if (type == "NFKC")
        return std::make_unique<UnicodeNormalizer>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
    if (type == "NFKD")
        return std::make_unique<UnicodeNormalizer>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT);
    if (type == "Lowercase") return std::make_unique<LowercaseNormalizer>();
    if (type == "Strip") {
        return std::make_unique<StripNormalizer>(config.at("strip_left").as_bool(), config.at("strip_right").as_bool());
    }
    if (type == "StripAccents") return std::make_unique<StripAccentsNormalizer>();
    if (type == "Replace") return std::make_unique<ReplaceNormalizer>(config);
    if (type == "Prepend") return std::make_unique<PrependNormalizer>(config.at("prepend").as_string());
    if (type == "Sequence") {
        return std::make_unique<NormalizerSequence>(make_all<Normalizer>(config.at("normalizers"), make_normalizer));
    }
    unsupported(config, "normalizer");
}

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const JsonField& config) {
    if (config.is_null()) return nullptr;
    const std::string type = config.type();
    if (type == "Split") return std::make_unique<SplitPreTokenizer>(config);
    if (type == "ByteLevel") return std::make_unique<ByteLevelPreTokenizer>(config);
    if (type == "Digits") return std::make_unique<DigitsPreTokenizer>(config);
    if (type == "Metaspace") return std::make_unique<MetaspacePreTokenizer>(config);
    if (type == "Sequence") {
        return std::make_unique<PreTokenizerSequence>(
            make_all<PreTokenizer>(config.at("pretokenizers"), make_pre_tokenizer));
    }
    unsupported(config, "pre-tokenizer");
}

std::unique_ptr<Decoder> make_decoder(const JsonField& config) {
    if (config.is_null()) return nullptr;
    const std::string type = config.type();
    if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
    if (type == "Metaspace") return std::make_unique<MetaspaceDecoder>(config);
    if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
    if (type == "Fuse") return std::make_unique<FuseDecoder>();
    if (type == "Strip") return std::make_unique<StripDecoder>(config);
    if (type == "Replace") return std::make_unique<ReplaceDecoder>(config);
    if (type == "Sequence") {
        return std::make_unique<DecoderSequence>(make_all<Decoder>(config.at("decoders"), make_decoder));
    }
    unsupported(config, "decoder");
}

std::unique_ptr<PostProcessor> make_post_processor(const JsonField& config) {
    if (config.is_null()) return nullptr;
    const std::string type = config.type();
    if (type == "ByteLevel") return nullptr;  // it only trims offsets, which ttlm does not report
    if (type == "TemplateProcessing") return make_template_processing(config);
    if (type == "RobertaProcessing" || type == "BertProcessing") return make_cls_sep_processing(config);
    if (type == "Sequence") {
        return std::make_unique<PostProcessorSequence>(
            make_all<PostProcessor>(config.at("processors"), make_post_processor));
    }
    unsupported(config, "post-processor");
}

std::unique_ptr<PostProcessor> make_affix_post_processor(std::vector<int64_t> prefix, std::vector<int64_t> suffix) {
    return std::make_unique<AffixPostProcessor>(std::move(prefix), std::move(suffix));
}

}  // namespace ttlm::io::tokenizer_impl
