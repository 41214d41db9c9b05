#include "io/tokenizer.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <unordered_map>
#include <unordered_set>

#include "io/errors.hpp"
#include "io/tokenizer_bpe.hpp"
#include "io/tokenizer_json.hpp"
#include "io/tokenizer_pipeline.hpp"
#include "io/tokenizer_unicode.hpp"

namespace ttlm::io {

using namespace tokenizer_impl;

namespace {

struct AddedToken {
    std::string content;
    int64_t id = 0;
    bool special = false;
    bool single_word = false;
    bool lstrip = false;
    bool rstrip = false;
    bool normalized = true;
};

// Finds added tokens in text, leftmost first and then longest, as HF's aho-corasick automaton
// built with MatchKind::LeftmostLongest does.
class TokenTrie {
   public:
    void add(std::string_view pattern, int32_t value) {
        int32_t node = 0;
        for (char c : pattern) {
            const auto byte = static_cast<unsigned char>(c);
            if (const int32_t next = child(node, byte); next >= 0) {
                node = next;
                continue;
            }
            const auto added = static_cast<int32_t>(nodes_.size());
            nodes_.emplace_back();
            auto& children = nodes_[node].children;
            children.insert(std::lower_bound(children.begin(), children.end(), std::make_pair(byte, int32_t{-1})),
                            {byte, added});
            node = added;
        }
        // The first token with a given content keeps it, as HF's trie holds the first pattern.
        if (nodes_[node].value < 0) nodes_[node].value = value;
        may_start_[static_cast<unsigned char>(pattern.front())] = true;
    }

    // The value of the longest pattern starting at `pos`, or -1; its length goes to `length`.
    int32_t longest_at(std::string_view text, size_t pos, size_t& length) const {
        if (!may_start_[static_cast<unsigned char>(text[pos])]) return -1;
        int32_t node = 0, found = -1;
        for (size_t i = pos; i < text.size(); ++i) {
            node = child(node, static_cast<unsigned char>(text[i]));
            if (node < 0) break;
            if (nodes_[node].value >= 0) {
                found = nodes_[node].value;
                length = i + 1 - pos;
            }
        }
        return found;
    }

    bool empty() const { return nodes_.size() == 1; }

   private:
    struct Node {
        std::vector<std::pair<unsigned char, int32_t>> children;  // sorted by byte
        int32_t value = -1;
    };

    int32_t child(int32_t node, unsigned char byte) const {
        const auto& children = nodes_[node].children;
        auto it = std::lower_bound(children.begin(), children.end(), byte,
                                   [](const auto& entry, unsigned char b) { return entry.first < b; });
        return it != children.end() && it->first == byte ? it->second : -1;
    }

    std::vector<Node> nodes_{1};
    std::array<bool, 256> may_start_{};
};

char32_t last_char(std::string_view text) {
    size_t start = text.size() - 1;
    while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
    return next_char(text, start);
}

// Start of the run of whitespace that ends `text`.
size_t trailing_space_start(std::string_view text) {
    size_t end = text.size();
    while (end > 0 && is_white_space(last_char(text.substr(0, end)))) {
        --end;
        while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
    }
    return end;
}

// Length of the run of whitespace that starts `text`.
size_t leading_space_length(std::string_view text) {
    size_t pos = 0;
    while (pos < text.size()) {
        size_t next = pos;
        if (!is_white_space(next_char(text, next))) break;
        pos = next;
    }
    return pos;
}

// transformers' clean_up_tokenization.
std::string clean_up_tokenization(std::string text) {
    static const std::array<std::pair<std::string_view, std::string_view>, 10> replacements = {{
        {" .", "."},
        {" ?", "?"},
        {" !", "!"},
        {" ,", ","},
        {" ' ", "'"},
        {" n't", "n't"},
        {" 'm", "'m"},
        {" 's", "'s"},
        {" 've", "'ve"},
        {" 're", "'re"},
    }};
    for (const auto& [from, to] : replacements) {
        std::string out;
        size_t previous = 0;
        for (size_t pos = text.find(from); pos != std::string::npos; pos = text.find(from, previous)) {
            out.append(text, previous, pos - previous);
            out += to;
            previous = pos + from.size();
        }
        out.append(text, previous);
        text = std::move(out);
    }
    return text;
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::system_error(errno, std::generic_category(), "cannot open " + path.string());
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (in.bad()) throw std::system_error(errno, std::generic_category(), "cannot read " + path.string());
    return std::move(buffer).str();
}

}  // namespace

struct Tokenizer::Impl {
    std::unique_ptr<BpeModel> model;
    std::unique_ptr<Normalizer> normalizer;
    std::unique_ptr<PreTokenizer> pre_tokenizer;
    std::unique_ptr<PostProcessor> post_processor;
    std::unique_ptr<Decoder> decoder;

    std::vector<AddedToken> added_tokens;
    std::unordered_map<std::string, int64_t, StringHash, std::equal_to<>> added_ids;
    TokenTrie raw_added;         // added tokens matched in the text as given (normalized=false)
    TokenTrie normalized_added;  // added tokens matched after normalization, by their normalized content

    std::vector<std::string_view>
        token_of_id;                // into the model's vocabulary or added_tokens; "" where no token has the id
    std::vector<uint8_t> id_flags;  // kHasToken | kSpecial
    static constexpr uint8_t kHasToken = 1, kSpecial = 2;

    std::optional<int64_t> bos, eos;
    bool clean_up_spaces = false;
    std::string source;  // the tokenizer.json path, for messages

    void load(const JsonField& root, std::optional<BpeTables> tables);
    void load_added_tokens(const JsonField& list);
    void load_config(const JsonField& config);
    void build_id_table();
    void check_special_ids() const;

    struct Segment {
        Piece piece;
        int64_t id = -1;  // an added token's id, or -1 for text the model tokenizes
    };
    void split_on_added(Piece piece, const TokenTrie& trie, std::vector<Segment>& out) const;
    std::vector<int64_t> encode(std::string_view text, bool add_special_tokens) const;
    std::string decode(std::span<const int64_t> ids, bool skip_special_tokens) const;

    bool has_token(int64_t id) const {
        return id >= 0 && id < static_cast<int64_t>(id_flags.size()) && (id_flags[id] & kHasToken);
    }
    std::optional<int64_t> token_to_id(std::string_view token) const {
        if (auto it = added_ids.find(token); it != added_ids.end()) return it->second;
        if (auto id = model->token_to_id(token)) return *id;
        return std::nullopt;
    }
};

void Tokenizer::Impl::load(const JsonField& root, std::optional<BpeTables> tables) {
    if (!root.value().is_object()) root.fail("a JSON object");
    const JsonField model_config = root.at("model");
    const auto type = model_config.optional_string("type");
    // Files written by old versions of tokenizers may omit the model's type.
    if (type ? *type != "BPE" : !model_config.find("merges")) {
        throw_format_error(model_config.where() + ": model type \"" + type.value_or("(none)") +
                           "\" is not supported (only BPE)");
    }
    model = std::make_unique<BpeModel>(model_config, std::move(tables));
    static const nlohmann::json absent;  // null
    const auto component = [&](std::string_view key) {
        auto field = root.find(key);
        return field ? *field : JsonField(absent, root.file(), std::string(key));
    };
    normalizer = make_normalizer(component("normalizer"));
    pre_tokenizer = make_pre_tokenizer(component("pre_tokenizer"));
    post_processor = make_post_processor(component("post_processor"));
    decoder = make_decoder(component("decoder"));
    if (auto list = root.find("added_tokens")) load_added_tokens(*list);
}

void Tokenizer::Impl::load_added_tokens(const JsonField& list) {
    std::unordered_map<int64_t, std::string> content_of_id;
    for (size_t i = 0; i < list.array_size(); ++i) {
        const JsonField entry = list.at(i);
        AddedToken token;
        token.content = entry.at("content").as_string();
        if (token.content.empty()) continue;  // HF ignores empty added tokens
        token.special = entry.bool_or("special", false);
        token.single_word = entry.bool_or("single_word", false);
        token.lstrip = entry.bool_or("lstrip", false);
        token.rstrip = entry.bool_or("rstrip", false);
        token.normalized = entry.bool_or("normalized", !token.special);
        // HF keeps the vocabulary's id for a token the model already has.
        if (auto model_id = model->token_to_id(token.content)) {
            token.id = *model_id;
        } else {
            const JsonField id = entry.at("id");
            token.id = id.as_int();
            if (token.id < 0 || token.id > INT32_MAX) id.fail("an id in [0, 2^31)");
        }
        if (auto it = added_ids.find(token.content); it != added_ids.end()) {
            if (it->second != token.id) entry.fail("a content not already given to id " + std::to_string(it->second));
            continue;  // HF adds each token once
        }
        if (auto it = content_of_id.find(token.id); it != content_of_id.end()) {
            entry.at("id").fail("an id not already given to \"" + it->second + "\"");
        }
        content_of_id.emplace(token.id, token.content);
        added_ids.emplace(token.content, token.id);
        added_tokens.push_back(std::move(token));
    }
    for (size_t i = 0; i < added_tokens.size(); ++i) {
        const AddedToken& token = added_tokens[i];
        const auto index = static_cast<int32_t>(i);
        if (!token.normalized) {
            raw_added.add(token.content, index);
            continue;
        }
        Piece normalized{token.content, true};
        if (normalizer) normalizer->normalize(normalized);
        if (!normalized.text.empty()) normalized_added.add(normalized.text, index);
    }
}

void Tokenizer::Impl::load_config(const JsonField& config) {
    if (!config.value().is_object()) config.fail("a JSON object");
    const auto token_content = [&](std::string_view key) -> std::optional<std::string> {
        auto field = config.find(key);
        if (!field) return std::nullopt;
        if (field->value().is_string()) return field->as_string();
        if (field->value().is_object()) return field->at("content").as_string();
        field->fail("a token string or an object with \"content\"");
    };
    const auto resolve = [&](std::string_view key, bool required) -> std::optional<int64_t> {
        const auto content = token_content(key);
        if (!content) {
            if (required)
                throw_format_error(config.where() + ": " + std::string(key) + " is required when add_" +
                                   std::string(key) + " is true");
            return std::nullopt;
        }
        const auto id = token_to_id(*content);
        if (!id && required) {
            throw_format_error(config.where() + ": " + std::string(key) + " \"" + *content +
                               "\" is not in the tokenizer's vocabulary");
        }
        return id;
    };
    const auto add_bos = config.find("add_bos_token");
    const auto add_eos = config.find("add_eos_token");
    const bool with_bos = add_bos && add_bos->as_bool();
    const bool with_eos = add_eos && add_eos->as_bool();
    bos = resolve("bos_token", with_bos);
    eos = resolve("eos_token", with_eos);
    if (add_bos || add_eos) {
        std::vector<int64_t> prefix, suffix;
        if (with_bos) prefix.push_back(*bos);
        if (with_eos) suffix.push_back(*eos);
        post_processor = make_affix_post_processor(std::move(prefix), std::move(suffix));
    }
    clean_up_spaces = config.bool_or("clean_up_tokenization_spaces", false);
}

void Tokenizer::Impl::build_id_table() {
    int64_t max_id = -1;
    const TokenIdTable& vocab = model->vocab();
    for (size_t i = 0; i < vocab.size(); ++i) max_id = std::max<int64_t>(max_id, vocab.id_at(i));
    for (const AddedToken& token : added_tokens) max_id = std::max(max_id, token.id);
    // Ids index a table (len(tokenizer) is max id + 1); refuse a file whose ids would make it huge.
    const size_t token_count = vocab.size() + added_tokens.size();
    if (max_id >= static_cast<int64_t>(4 * token_count + 65536)) {
        throw_format_error(source + ": ids are too sparse: the largest id is " + std::to_string(max_id) + " for " +
                           std::to_string(token_count) + " tokens");
    }
    token_of_id.assign(static_cast<size_t>(max_id + 1), std::string_view());
    id_flags.assign(static_cast<size_t>(max_id + 1), 0);
    for (size_t i = 0; i < vocab.size(); ++i) {
        token_of_id[vocab.id_at(i)] = vocab.token_at(i);
        id_flags[vocab.id_at(i)] = kHasToken;
    }
    std::unordered_set<std::string_view> special_contents;
    for (const AddedToken& token : added_tokens) {
        token_of_id[token.id] = token.content;  // HF looks added tokens up before the vocabulary
        id_flags[token.id] = kHasToken;
        if (token.special) special_contents.insert(token.content);
    }
    // HF decides "special" by the token's string, so a vocabulary id spelled like a special token counts.
    for (size_t id = 0; id < token_of_id.size(); ++id) {
        if ((id_flags[id] & kHasToken) && special_contents.contains(token_of_id[id])) id_flags[id] |= kSpecial;
    }
}

// HF would emit a post-processor id that names no token and drop it when decoding; refuse it.
void Tokenizer::Impl::check_special_ids() const {
    if (!post_processor) return;
    std::vector<int64_t> ids;
    post_processor->add_special_tokens(ids);
    for (const int64_t id : ids) {
        if (!has_token(id)) {
            throw_format_error(source + ": post_processor: special token id " + std::to_string(id) + " names no token");
        }
    }
}

void Tokenizer::Impl::split_on_added(Piece piece, const TokenTrie& trie, std::vector<Segment>& out) const {
    const std::string_view text = piece.text;
    const auto push_text = [&](size_t begin, size_t end) {
        if (begin < end)
            out.push_back({Piece{std::string(text.substr(begin, end - begin)), piece.at_text_start && begin == 0}, -1});
    };
    if (trie.empty()) {
        if (!text.empty()) out.push_back({std::move(piece), -1});
        return;
    }
    size_t covered = 0;  // end of the last split pushed
    size_t pos = 0;
    while (pos < text.size()) {
        size_t length = 0;
        const int32_t index = trie.longest_at(text, pos, length);
        if (index < 0) {
            ++pos;
            continue;
        }
        const AddedToken& token = added_tokens[index];
        size_t start = pos, stop = pos + length;
        pos = stop;  // the automaton resumes after the match, even one discarded below
        if (token.single_word) {
            const bool word_before = start > 0 && is_word_char(last_char(text.substr(0, start)));
            size_t after = stop;
            const bool word_after = stop < text.size() && is_word_char(next_char(text, after));
            if (word_before || word_after) continue;
        }
        if (token.lstrip) start = std::max(trailing_space_start(text.substr(0, start)), covered);
        if (token.rstrip) stop += leading_space_length(text.substr(stop));
        push_text(covered, start);
        out.push_back({Piece{std::string(text.substr(start, stop - start)), false}, token.id});
        covered = stop;
    }
    push_text(covered, text.size());
}

std::vector<int64_t> Tokenizer::Impl::encode(std::string_view text, bool add_special_tokens) const {
    std::vector<Segment> raw_segments;
    split_on_added(Piece{std::string(text), true}, raw_added, raw_segments);
    std::vector<Segment> segments;
    segments.reserve(raw_segments.size());
    for (Segment& segment : raw_segments) {
        if (segment.id >= 0) {
            segments.push_back(std::move(segment));
            continue;
        }
        if (normalizer) normalizer->normalize(segment.piece);
        split_on_added(std::move(segment.piece), normalized_added, segments);
    }
    std::vector<int64_t> ids;
    ids.reserve(text.size() / 3 + 4);
    Pieces pieces;
    for (Segment& segment : segments) {
        if (segment.id >= 0) {
            ids.push_back(segment.id);
            continue;
        }
        pieces.assign(1, std::move(segment.piece));
        if (pre_tokenizer) pre_tokenizer->pre_tokenize(pieces);
        for (const Piece& piece : pieces) model->tokenize(piece.text, ids);
    }
    if (add_special_tokens && post_processor) post_processor->add_special_tokens(ids);
    return ids;
}

std::string Tokenizer::Impl::decode(std::span<const int64_t> ids, bool skip_special_tokens) const {
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (const int64_t id : ids) {
        if (!has_token(id)) {
            throw std::out_of_range("Tokenizer::decode: id " + std::to_string(id) + " names no token (size " +
                                    std::to_string(token_of_id.size()) + ")");
        }
        if (skip_special_tokens && (id_flags[id] & kSpecial)) continue;
        tokens.emplace_back(token_of_id[id]);
    }
    std::string text;
    if (decoder) {
        decoder->decode_chain(tokens);
        for (const std::string& part : tokens) text += part;
    } else {
        for (size_t i = 0; i < tokens.size(); ++i) text += (i ? " " : "") + tokens[i];
    }
    return clean_up_spaces ? clean_up_tokenization(std::move(text)) : text;
}

Tokenizer::Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(const Tokenizer&) = default;
Tokenizer& Tokenizer::operator=(const Tokenizer&) = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

Tokenizer Tokenizer::from_json(std::string_view tokenizer_json, std::string_view config_json, std::string_view source) {
    const std::string source_name(source);
    TokenizerDocument document = read_tokenizer_json(tokenizer_json, source_name);
    auto impl = std::make_shared<Impl>();
    impl->source = source_name;
    impl->load(JsonField(document.root, source_name, ""), std::move(document.tables));
    if (!config_json.empty()) {
        const std::filesystem::path config_name =
            std::filesystem::path(source_name).parent_path() / "tokenizer_config.json";
        const nlohmann::json config = parse_json(config_json, config_name.string());
        impl->load_config(JsonField(config, config_name.string(), ""));
    }
    impl->build_id_table();
    impl->check_special_ids();
    return Tokenizer(std::move(impl));
}

Tokenizer Tokenizer::from_file(const std::string& path) {
    namespace fs = std::filesystem;
    const fs::path given(path);
    if (!fs::is_directory(given)) return from_json(read_file(given), {}, given.string());
    const fs::path json_path = given / "tokenizer.json";
    if (!fs::exists(json_path)) {
        throw std::system_error(std::make_error_code(std::errc::no_such_file_or_directory),
                                "tokenizer folder " + given.string() + " has no tokenizer.json");
    }
    const fs::path config_path = given / "tokenizer_config.json";
    const std::string config = fs::exists(config_path) ? read_file(config_path) : std::string();
    if (fs::exists(config_path) && config.empty()) {
        throw FormatError(config_path.string() + ": the file is empty (expected a JSON object)");
    }
    return from_json(read_file(json_path), config, json_path.string());
}

std::vector<int64_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
    if (const size_t bad = find_invalid_utf8(text); bad != std::string_view::npos) {
        char byte[8];
        std::snprintf(byte, sizeof(byte), "0x%02X", static_cast<unsigned char>(text[bad]));
        throw std::invalid_argument("Tokenizer::encode: text is not valid UTF-8 at byte offset " + std::to_string(bad) +
                                    " (byte " + byte + ")");
    }
    return impl_->encode(text, add_special_tokens);
}

std::string Tokenizer::decode(std::span<const int64_t> ids, bool skip_special_tokens) const {
    return impl_->decode(ids, skip_special_tokens);
}

std::string Tokenizer::id_to_token(int64_t id) const {
    if (!impl_->has_token(id)) {
        throw std::out_of_range("Tokenizer::id_to_token: id " + std::to_string(id) + " names no token (size " +
                                std::to_string(size()) + ")");
    }
    return std::string(impl_->token_of_id[id]);
}

std::optional<int64_t> Tokenizer::token_to_id(std::string_view token) const { return impl_->token_to_id(token); }

int64_t Tokenizer::size() const { return static_cast<int64_t>(impl_->token_of_id.size()); }

std::optional<int64_t> Tokenizer::bos_id() const { return impl_->bos; }

std::optional<int64_t> Tokenizer::eos_id() const { return impl_->eos; }

}  // namespace ttlm::io
