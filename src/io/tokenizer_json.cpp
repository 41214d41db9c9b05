#include "io/tokenizer_json.hpp"

#include "io/tokenizer_unicode.hpp"

namespace ttlm::io::tokenizer_impl {

namespace {

std::string describe(const nlohmann::json& value) {
    switch (value.type()) {
        case nlohmann::json::value_t::null:
            return "null";
        case nlohmann::json::value_t::boolean:
            return "a boolean";
        case nlohmann::json::value_t::string:
            return "a string";
        case nlohmann::json::value_t::array:
            return "an array";
        case nlohmann::json::value_t::object:
            return "an object";
        case nlohmann::json::value_t::number_float:
            return "a number";
        default:
            return "an integer";
    }
}

std::string member_path(const std::string& parent, std::string_view key) {
    return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

// Builds the JSON tree of a tokenizer.json from parser events, diverting model.vocab and
// model.merges into BpeTables. Anything unexpected inside those two (a non-integer id, a merge that
// is neither "a b" nor a pair of strings, a second "model") marks the document irregular, and the
// caller parses it again as a plain tree.
class DocumentBuilder final : public nlohmann::json_sax<nlohmann::json> {
   public:
    nlohmann::json root;
    BpeTables tables;
    bool irregular = false;
    bool saw_vocab = false, saw_merges = false;
    std::string error;  // the parser's message for text that is not JSON

    bool null() override { return value(nullptr); }
    bool boolean(bool v) override { return value(v); }
    bool number_integer(number_integer_t v) override { return mode_ == Mode::Vocab ? vocab_id(v) : value(v); }
    bool number_unsigned(number_unsigned_t v) override {
        if (mode_ != Mode::Vocab) return value(v);
        return v <= static_cast<number_unsigned_t>(INT64_MAX) ? vocab_id(static_cast<int64_t>(v)) : give_up();
    }
    bool number_float(number_float_t v, const string_t&) override { return value(v); }
    bool binary(binary_t& v) override { return value(std::move(v)); }

    bool string(string_t& v) override {
        if (mode_ == Mode::Merges) return merge_line(v);
        if (mode_ == Mode::MergePair) {
            pair_.push_back(std::move(v));
            return pair_.size() <= 2 || give_up();
        }
        return value(std::move(v));
    }

    bool key(string_t& k) override {
        key_ = std::move(k);
        return true;
    }

    bool start_object(std::size_t) override {
        if (mode_ != Mode::Tree) return give_up();
        if (is_model_member("vocab")) {
            if (saw_vocab) return give_up();
            saw_vocab = true;
            place(nlohmann::json::object());
            mode_ = Mode::Vocab;
            return true;
        }
        const bool is_model = stack_.size() == 1 && stack_.back()->is_object() && key_ == "model";
        if (is_model && model_) return give_up();
        nlohmann::json& object = place(nlohmann::json::object());
        if (is_model) model_ = &object;
        stack_.push_back(&object);
        return true;
    }

    bool end_object() override {
        if (mode_ == Mode::Vocab) {
            mode_ = Mode::Tree;
        } else {
            stack_.pop_back();
        }
        return true;
    }

    bool start_array(std::size_t) override {
        if (mode_ == Mode::Merges) {
            pair_.clear();
            mode_ = Mode::MergePair;
            return true;
        }
        if (mode_ != Mode::Tree) return give_up();
        if (is_model_member("merges")) {
            if (saw_merges) return give_up();
            saw_merges = true;
            place(nlohmann::json::array());
            mode_ = Mode::Merges;
            return true;
        }
        stack_.push_back(&place(nlohmann::json::array()));
        return true;
    }

    bool end_array() override {
        if (mode_ == Mode::MergePair) {
            if (pair_.size() != 2) return give_up();
            tables.merges.emplace_back(std::move(pair_[0]), std::move(pair_[1]));
            mode_ = Mode::Merges;
        } else if (mode_ == Mode::Merges) {
            mode_ = Mode::Tree;
        } else {
            stack_.pop_back();
        }
        return true;
    }

    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
        error = e.what();
        return false;
    }

   private:
    enum class Mode { Tree, Vocab, Merges, MergePair };

    bool give_up() {
        irregular = true;
        return false;
    }

    bool is_model_member(std::string_view name) const {
        return model_ && stack_.size() == 2 && stack_.back() == model_ && key_ == name;
    }

    // Puts a value where the parser is: the root, the next array element, or the member key_.
    nlohmann::json& place(nlohmann::json v) {
        if (stack_.empty()) {
            root = std::move(v);
            return root;
        }
        nlohmann::json& parent = *stack_.back();
        if (parent.is_array()) {
            parent.push_back(std::move(v));
            return parent.back();
        }
        nlohmann::json& member = parent[key_];
        member = std::move(v);
        return member;
    }

    bool value(nlohmann::json v) {
        if (mode_ != Mode::Tree) return give_up();
        place(std::move(v));
        return true;
    }

    bool vocab_id(int64_t id) {
        tables.vocab.emplace_back(std::move(key_), id);
        return true;
    }

    bool merge_line(const std::string& line) {
        if (line.starts_with("#version")) return true;
        const size_t space = line.find(' ');
        if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos) return give_up();
        tables.merges.emplace_back(line.substr(0, space), line.substr(space + 1));
        return true;
    }

    Mode mode_ = Mode::Tree;
    std::vector<nlohmann::json*> stack_;  // open containers; elements of an array are never held open
    nlohmann::json* model_ = nullptr;
    std::string key_;
    std::vector<std::string> pair_;
};

}  // namespace

nlohmann::json parse_json(std::string_view text, const std::string& source) {
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& error) {
        throw_format_error(source + ": invalid JSON: " + error.what());
    }
}

TokenizerDocument read_tokenizer_json(std::string_view text, const std::string& source) {
    DocumentBuilder builder;
    const bool parsed = nlohmann::json::sax_parse(text, &builder);
    if (!parsed && !builder.irregular) throw_format_error(source + ": invalid JSON: " + builder.error);
    if (builder.irregular || !builder.saw_vocab || !builder.saw_merges) return {parse_json(text, source), std::nullopt};
    return {std::move(builder.root), std::move(builder.tables)};
}

void throw_format_error(const std::string& message) { throw FormatError(message); }

void JsonField::fail(std::string_view expected) const {
    throw_format_error(where() + ": expected " + std::string(expected) + ", got " + describe(*value_));
}

JsonField JsonField::at(std::string_view key) const {
    auto field = find(key);
    if (!field) {
        const bool absent = !value_->is_object() || !value_->contains(key);
        throw_format_error(file_ + ": " + member_path(path_, key) + (absent ? " is missing" : " is null"));
    }
    return *field;
}

std::optional<JsonField> JsonField::find(std::string_view key) const {
    if (!value_->is_object()) fail("an object");
    auto it = value_->find(key);
    if (it == value_->end() || it->is_null()) return std::nullopt;
    return JsonField(*it, file_, member_path(path_, key));
}

JsonField JsonField::at(size_t index) const {
    if (!value_->is_array()) fail("an array");
    return JsonField((*value_)[index], file_, path_ + "[" + std::to_string(index) + "]");
}

size_t JsonField::array_size() const {
    if (!value_->is_array()) fail("an array");
    return value_->size();
}

std::string JsonField::as_string() const {
    if (!value_->is_string()) fail("a string");
    return value_->get<std::string>();
}

bool JsonField::as_bool() const {
    if (!value_->is_boolean()) fail("a boolean");
    return value_->get<bool>();
}

int64_t JsonField::as_int() const {
    if (value_->is_number_unsigned()) {
        const auto v = value_->get<uint64_t>();
        if (v > static_cast<uint64_t>(INT64_MAX)) fail("an integer that fits in int64");
        return static_cast<int64_t>(v);
    }
    if (!value_->is_number_integer()) fail("an integer");
    return value_->get<int64_t>();
}

double JsonField::as_number() const {
    if (!value_->is_number()) fail("a number");
    return value_->get<double>();
}

char32_t JsonField::as_char() const {
    const std::string text = as_string();
    if (text.empty() || find_invalid_utf8(text) != std::string_view::npos) fail("a one-character string");
    size_t pos = 0;
    const char32_t c = next_char(text, pos);
    if (pos != text.size()) fail("a one-character string");
    return c;
}

std::string JsonField::string_or(std::string_view key, std::string fallback) const {
    auto field = find(key);
    return field ? field->as_string() : std::move(fallback);
}

bool JsonField::bool_or(std::string_view key, bool fallback) const {
    auto field = find(key);
    return field ? field->as_bool() : fallback;
}

std::optional<std::string> JsonField::optional_string(std::string_view key) const {
    auto field = find(key);
    if (!field) return std::nullopt;
    return field->as_string();
}

}  // namespace ttlm::io::tokenizer_impl
