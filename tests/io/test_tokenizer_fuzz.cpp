// Fuzz-style tokenizer tests with a fixed seed: random valid text round-trips through DeepSeek-V3,
// random invalid UTF-8 is refused with its offset, and mutated tokenizer.json / config files and
// random regexes either load or fail with FormatError, never anything worse.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "io/errors.hpp"
#include "io/tokenizer.hpp"
#include "io/tokenizer_regex.hpp"
#include "io/tokenizer_unicode.hpp"

namespace {

using nlohmann::json;
using ttlm::io::FormatError;
using ttlm::io::Tokenizer;
using ttlm::io::tokenizer_impl::append_utf8;

const std::string kTokenizerDir = TTLM_SOURCE_DIR "/.cache/tokenizers/deepseek_v3";

// Valid UTF-8 mixing what tokenizers find hard: whitespace of every kind, digits, marks, CJK,
// emoji with joiners and modifiers, controls, and pieces of DeepSeek-V3's added tokens.
std::string random_text(std::mt19937& rng) {
    static const std::vector<std::pair<char32_t, char32_t>> ranges = {
        {0x20, 0x7E},       {0x30, 0x39},       {0x09, 0x0D},     {0x00, 0x1F},     {0xA0, 0xFF},
        {0x300, 0x36F},     {0x391, 0x3C9},     {0x410, 0x44F},   {0x4E00, 0x9FA5}, {0x3040, 0x30FF},
        {0xAC00, 0xD7A3},   {0x1F300, 0x1FAFF}, {0x2000, 0x200F}, {0xFE00, 0xFE0F}, {0xE000, 0xE0FF},
        {0x20000, 0x2A6DF}, {0x10000, 0x10FFFF}};
    static const std::vector<std::string> fragments = {"<｜begin▁of▁sentence｜>",
                                                       "<｜User｜>",
                                                       "<｜",
                                                       "｜>",
                                                       "▁",
                                                       "\xC2\x85",
                                                       "\xEF\xBB\xBF",
                                                       "\r\n",
                                                       "  ",
                                                       "'s",
                                                       "\xE2\x80\x8D",
                                                       "Ġ",
                                                       "Ċ"};
    std::string text;
    const int pieces = std::uniform_int_distribution<int>(0, 24)(rng);
    for (int i = 0; i < pieces; ++i) {
        if (std::uniform_int_distribution<int>(0, 9)(rng) == 0) {
            text += fragments[std::uniform_int_distribution<size_t>(0, fragments.size() - 1)(rng)];
            continue;
        }
        const auto [low, high] = ranges[std::uniform_int_distribution<size_t>(0, ranges.size() - 1)(rng)];
        char32_t c = std::uniform_int_distribution<char32_t>(low, high)(rng);
        if (c >= 0xD800 && c <= 0xDFFF) c = 0xFFFD;  // surrogates are not characters
        append_utf8(text, c);
    }
    return text;
}

TEST(TokenizerFuzz, RandomTextRoundTripsThroughDeepSeekV3) {
    if (!std::filesystem::exists(kTokenizerDir + "/tokenizer.json")) {
        GTEST_SKIP() << "no DeepSeek-V3 tokenizer in " << kTokenizerDir << " (run `bash scripts/fetch-tokenizer.sh`)";
    }
    const Tokenizer tokenizer = Tokenizer::from_file(kTokenizerDir);
    std::mt19937 rng(20240101);
    for (int i = 0; i < 2000; ++i) {
        const std::string text = random_text(rng);
        std::vector<int64_t> ids;
        ASSERT_NO_THROW(ids = tokenizer.encode(text)) << "case " << i;
        ASSERT_FALSE(ids.empty());
        EXPECT_EQ(ids.front(), 0);
        for (int64_t id : ids) ASSERT_TRUE(id >= 0 && id < tokenizer.size()) << id;
        EXPECT_EQ(tokenizer.decode(std::vector<int64_t>(ids.begin() + 1, ids.end())), text) << "case " << i;
    }
}

TEST(TokenizerFuzz, InvalidUtf8IsRefusedAtItsOffset) {
    const json vocab = {{"a", 0}};
    const Tokenizer tokenizer =
        Tokenizer::from_json(json{{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array()}}}}.dump());
    const std::vector<std::string> invalid = {"\x80",
                                              "\xBF",
                                              "\xC0\x80",
                                              "\xC1\xBF",
                                              "\xE0\x80\x80",
                                              "\xED\xA0\x80",
                                              "\xF0\x80\x80\x80",
                                              "\xF4\x90\x80\x80",
                                              "\xF5\x80\x80\x80",
                                              "\xFF",
                                              "\xC3",
                                              "\xE6\xB7",
                                              "\xF0\x9F\x98"};
    std::mt19937 rng(7);
    for (int i = 0; i < 500; ++i) {
        const std::string prefix = random_text(rng);
        const std::string bad = invalid[std::uniform_int_distribution<size_t>(0, invalid.size() - 1)(rng)];
        const std::string text = prefix + bad + (i % 2 ? random_text(rng) : std::string());
        try {
            tokenizer.encode(text);
            ADD_FAILURE() << "invalid UTF-8 accepted, case " << i;
        } catch (const std::invalid_argument& error) {
            const std::string expected = "byte offset " + std::to_string(prefix.size()) + " ";
            EXPECT_NE(std::string(error.what()).find(expected), std::string::npos) << error.what();
        }
    }
}

// A tokenizer.json using most components, for mutation.
std::string rich_tokenizer_json() {
    json vocab = json::object();
    const std::string letters = "abcdefgh <>|";
    int id = 0;
    for (char c : letters) vocab[std::string(1, c)] = id++;
    vocab["ab"] = id++;
    vocab["abc"] = id++;
    vocab["<unk>"] = id++;
    vocab["<0x41>"] = id++;
    return json{
        {"version", "1.0"},
        {"added_tokens",
         {{{"id", id}, {"content", "<s>"}, {"special", true}, {"normalized", false}},
          {{"id", id + 1}, {"content", "gh"}, {"special", false}, {"lstrip", true}, {"single_word", true}}}},
        {"normalizer",
         {{"type", "Sequence"},
          {"normalizers",
           {{{"type", "NFKC"}},
            {{"type", "Lowercase"}},
            {{"type", "Replace"}, {"pattern", {{"Regex", "\\s+"}}}, {"content", " "}}}}}},
        {"pre_tokenizer",
         {{"type", "Sequence"},
          {"pretokenizers",
           {{{"type", "Split"},
             {"pattern", {{"Regex", "\\p{N}{1,3}| ?\\p{L}+|\\s+(?!\\S)"}}},
             {"behavior", "Isolated"}},
            {{"type", "Digits"}, {"individual_digits", true}},
            {{"type", "Metaspace"}, {"replacement", "|"}, {"prepend_scheme", "first"}}}}}},
        {"model",
         {{"type", "BPE"},
          {"vocab", vocab},
          {"merges", {"a b", "ab c"}},
          {"unk_token", "<unk>"},
          {"byte_fallback", true},
          {"fuse_unk", true}}},
        {"post_processor",
         {{"type", "TemplateProcessing"},
          {"single",
           {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
          {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {id}}, {"tokens", {"<s>"}}}}}}}},
        {"decoder",
         {{"type", "Sequence"},
          {"decoders",
           {{{"type", "Metaspace"}, {"replacement", "|"}, {"prepend_scheme", "first"}},
            {{"type", "ByteFallback"}},
            {{"type", "Fuse"}},
            {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}}}
        .dump(1);
}

std::string mutate(std::string text, std::mt19937& rng) {
    static const std::string alphabet = "{}[]\",:0123456789-.eE truefalsnul\\abc<>|";
    const auto position = [&] {
        return std::uniform_int_distribution<size_t>(0, text.empty() ? 0 : text.size() - 1)(rng);
    };
    const int edits = std::uniform_int_distribution<int>(1, 4)(rng);
    for (int e = 0; e < edits && !text.empty(); ++e) {
        switch (std::uniform_int_distribution<int>(0, 4)(rng)) {
            case 0:
                text.resize(position());
                break;
            case 1:
                text[position()] = alphabet[std::uniform_int_distribution<size_t>(0, alphabet.size() - 1)(rng)];
                break;
            case 2:
                text[position()] = static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
                break;
            case 3: {
                const size_t at = position();
                text.erase(at, std::uniform_int_distribution<size_t>(1, 12)(rng));
                break;
            }
            default: {
                const size_t at = position();
                text.insert(at, text.substr(position(), std::uniform_int_distribution<size_t>(1, 12)(rng)));
            }
        }
    }
    return text;
}

TEST(TokenizerFuzz, MutatedFilesLoadOrFailWithFormatError) {
    const std::string original = rich_tokenizer_json();
    const std::string config = R"({"add_bos_token": true, "add_eos_token": false, "bos_token": {"content": "<s>"},
                                   "clean_up_tokenization_spaces": true})";
    // The unmutated pair works: "gh" takes the space before it (lstrip), digits have no tokens.
    const Tokenizer reference = Tokenizer::from_json(original, config);
    EXPECT_EQ(reference.decode(reference.encode("Abc  gh 12 <s>x")), "<s> abcgh <unk><unk> <s><unk>");

    std::mt19937 rng(99);
    int loaded = 0, refused = 0;
    for (int i = 0; i < 3000; ++i) {
        const bool mutate_config = i % 4 == 3;
        const std::string tokenizer_text = mutate_config ? original : mutate(original, rng);
        const std::string config_text = mutate_config ? mutate(config, rng) : config;
        std::optional<Tokenizer> tokenizer;
        try {
            tokenizer.emplace(Tokenizer::from_json(tokenizer_text, config_text));
            ++loaded;
        } catch (const FormatError&) {
            ++refused;
            continue;
        } catch (const std::exception& error) {
            ADD_FAILURE() << "case " << i << ": not a FormatError: " << error.what();
            continue;
        }
        for (const std::string text : {"abc gh", "Hello 123 <s> wörld\t\n", ""}) {
            try {
                const auto ids = tokenizer->encode(text);
                tokenizer->decode(ids);
                tokenizer->decode(ids, true);
            } catch (const std::runtime_error&) {
                // A mutated unk_token may name no token; HF fails the same way.
            }
        }
    }
    EXPECT_GT(loaded, 100);
    EXPECT_GT(refused, 1000);
}

TEST(TokenizerFuzz, RandomRegexesCompileOrFailWithFormatError) {
    static const std::vector<std::string> atoms = {
        "a",     "b", " ", "\\s", "\\S",     "\\w",   "\\W", "\\h",       "\\d", "\\p{L}", "\\p{N}",
        "[",     "]", "^", "-",   "(",       ")",     "(?!", "(?=",       "*",   "+",      "?",
        "{1,3}", "|", ".", "\\",  "\\u00e9", "\\u12", "&&",  "[:alpha:]", "\\v", "$"};
    std::mt19937 rng(5);
    int compiled = 0;
    for (int i = 0; i < 3000; ++i) {
        std::string pattern;
        const int length = std::uniform_int_distribution<int>(1, 8)(rng);
        for (int k = 0; k < length; ++k)
            pattern += atoms[std::uniform_int_distribution<size_t>(0, atoms.size() - 1)(rng)];
        try {
            const ttlm::io::tokenizer_impl::Regex regex(pattern, "fuzz");
            ++compiled;
            std::vector<std::pair<size_t, size_t>> matches;
            const std::string text = random_text(rng);
            regex.find_all(text, matches);
            size_t previous_end = 0;
            for (const auto& [begin, end] : matches) {
                EXPECT_LE(begin, end) << pattern;
                EXPECT_GE(begin, previous_end) << pattern;
                EXPECT_LE(end, text.size()) << pattern;
                previous_end = end;
            }
        } catch (const FormatError&) {
        }
    }
    EXPECT_GT(compiled, 300);
}

}  // namespace
