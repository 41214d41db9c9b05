// Reading tokenizer.json fields with errors that name the file and the field (internal).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/errors.hpp"

namespace ttlm::io::tokenizer_impl {

// A JSON value and where it came from: "tokenizer.json: pre_tokenizer.pretokenizers[1].pattern".
// Every accessor checks the type and throws FormatError naming the file, the field and what was
// expected, so a malformed file never reaches the tokenizer as a silent default.
class JsonField {
   public:
    JsonField(const nlohmann::json& value, std::string file, std::string path)
        : value_(&value), file_(std::move(file)), path_(std::move(path)) {}

    const nlohmann::json& value() const { return *value_; }
    const std::string& file() const { return file_; }
    // "file: field" for messages about this field.
    std::string where() const { return path_.empty() ? file_ : file_ + ": " + path_; }

    bool is_null() const { return value_->is_null(); }
    // The member `key`, which must be present and not null.
    JsonField at(std::string_view key) const;
    // The member `key`, or nullopt when it is absent or null.
    std::optional<JsonField> find(std::string_view key) const;
    JsonField at(size_t index) const;
    size_t array_size() const;  // the field must be an array

    std::string as_string() const;
    bool as_bool() const;
    int64_t as_int() const;
    double as_number() const;
    // A single Unicode character given as a one-character string (Metaspace's replacement, ...).
    char32_t as_char() const;

    std::string string_or(std::string_view key, std::string fallback) const;
    bool bool_or(std::string_view key, bool fallback) const;
    std::optional<std::string> optional_string(std::string_view key) const;

    // The component's "type" member, for dispatching.
    std::string type() const { return at("type").as_string(); }

    [[noreturn]] void fail(std::string_view expected) const;

   private:
    const nlohmann::json* value_;
    std::string file_;
    std::string path_;
};

[[noreturn]] void throw_format_error(const std::string& message);

// model.vocab and model.merges of a BPE tokenizer.json.
struct BpeTables {
    std::vector<std::pair<std::string, int64_t>> vocab;
    std::vector<std::pair<std::string, std::string>> merges;  // "a b" lines split, "#version" lines dropped
};

// A parsed tokenizer.json. The model's vocab and merges (250k small values) are read straight into
// `tables` when they have the usual shape: building and freeing their JSON tree would take three
// times as long as the rest of loading. Then `root` holds them as empty placeholders. Otherwise
// `tables` is empty and `root` holds everything, so the reader of the model can name the field at
// fault.
struct TokenizerDocument {
    nlohmann::json root;
    std::optional<BpeTables> tables;
};

// Throws FormatError("<source>: invalid JSON: ...") for text that is not JSON.
TokenizerDocument read_tokenizer_json(std::string_view text, const std::string& source);

// Throws FormatError("<source>: invalid JSON: ...") for text that is not JSON.
nlohmann::json parse_json(std::string_view text, const std::string& source);

}  // namespace ttlm::io::tokenizer_impl
