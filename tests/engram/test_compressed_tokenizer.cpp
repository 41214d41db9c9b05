// The CompressedTokenizer: normalize() against the Python reference (golden/normalize_cases.json,
// from scripts/reference/engram_reference.py), table construction on hand-made tokens, and the
// whole DeepSeek-V3 table against golden/hash_default/lookup_table_int32.npy.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "io/npy.hpp"
#include "io/tokenizer_unicode.hpp"
#include "io/tokenizer.hpp"
#include "models/engram/compressed_tokenizer.hpp"

namespace {

using ttlm::engram::CompressedTokenizer;
using ttlm::engram::normalize;
using ttlm::engram::TokenStrings;

const std::string kGolden = TTLM_SOURCE_DIR "/tests/engram/golden/";
const std::string kTokenizerDir = TTLM_SOURCE_DIR "/.cache/tokenizers/deepseek_v3";

std::string error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "(no std::invalid_argument)";
}

TEST(Normalize, MatchesPythonReferenceOnEveryGoldenCase) {
    std::ifstream in(kGolden + "normalize_cases.json");
    ASSERT_TRUE(in) << "missing golden normalize_cases.json";
    const auto cases = nlohmann::json::parse(in);
    ASSERT_GT(cases.size(), 40u);
    for (const auto& c : cases) {
        const std::string text = c.at("text");
        EXPECT_EQ(normalize(text), c.at("normalized").get<std::string>()) << "text: " << nlohmann::json(text).dump();
    }
}

// The cases the specification names, with the values the Python reference gives.
TEST(Normalize, SpecificationCases) {
    EXPECT_EQ(normalize("ΟΔΟΣ"), "οδοσ");  // no final sigma
    EXPECT_EQ(normalize("İ"), "i");
    EXPECT_EQ(normalize("Café\t\n X"), "cafe x");
    EXPECT_EQ(normalize(" "), " ");   // a lone space survives Strip through the sentinel
    EXPECT_EQ(normalize("  "), " ");  // the run collapses first
    EXPECT_EQ(normalize(" a "), "a");
    EXPECT_EQ(normalize("\u0308"), "");  // a lone combining mark normalizes to nothing
    EXPECT_EQ(normalize(""), "");
}

TEST(Normalize, InvalidUtf8IsAnError) {
    EXPECT_NE(error_of([] { normalize("ab\xC3"); }).find("invalid UTF-8"), std::string::npos);
    EXPECT_THROW(normalize("\xFF"), std::invalid_argument);
    EXPECT_THROW(normalize("\xED\xA0\x80"), std::invalid_argument);  // a UTF-16 surrogate
}

// Random valid UTF-8 normalizes without error and stays valid; random bytes either normalize or
// raise std::invalid_argument, nothing else.
TEST(Normalize, FuzzValidAndInvalidInput) {
    std::mt19937 rng(3);
    auto random_code_point = [&]() -> char32_t {
        switch (rng() % 4) {
            case 0:
                return rng() % 0x80;
            case 1:
                return 0x80 + rng() % (0x800 - 0x80);
            case 2: {
                char32_t c = 0x800 + rng() % (0x10000 - 0x800);
                return (c >= 0xD800 && c < 0xE000) ? c - 0x800 : c;
            }
            default:
                return 0x10000 + rng() % (0x110000 - 0x10000);
        }
    };
    for (int i = 0; i < 2000; ++i) {
        std::string text;
        for (int n = rng() % 12; n > 0; --n) {
            ttlm::io::tokenizer_impl::append_utf8(text, random_code_point());
        }
        std::string normalized;
        ASSERT_NO_THROW(normalized = normalize(text)) << nlohmann::json(text).dump();
        ASSERT_NO_THROW(normalize(normalized));  // the output is valid UTF-8 again
    }
    for (int i = 0; i < 2000; ++i) {
        std::string bytes(rng() % 10, '\0');
        for (auto& b : bytes) b = static_cast<char>(rng());
        try {
            normalize(bytes);
        } catch (const std::invalid_argument&) {
        }
    }
}

// Hand-made vocabulary; expected ids worked out from the reference's rules.
TEST(CompressedTokenizer, BuildsTableFromTokenStrings) {
    const std::vector<TokenStrings> tokens = {
        {"Hello", "Hello"},          // 0: key "hello"                  -> new 0
        {"hello", "hello"},          // 1: key "hello"                  -> 0
        {" HELLO ", "ĠHELLO"},       // 2: stripped, lowercased "hello" -> 0
        {"\xEF\xBF\xBD", "Ã"},       // 3: U+FFFD: key is the raw token "Ã" -> new 1
        {"x\xEF\xBF\xBD", "hello"},  // 4: raw key "hello" shares the normalized key space -> 0
        {"\u0308", "ÌĪ"},            // 5: normalizes to "": key is the text itself -> new 2
        {" ", "Ġ"},                  // 6: key " "                      -> new 3
        {"\t\n", "ĉĊ"},              // 7: collapses to " "             -> 3
        {"Café", "CafÃ©"},           // 8: "cafe"                       -> new 4
        {"cafe", "cafe"},            // 9:                              -> 4
        {"\u0308", "x"},             // 10: same text as 5             -> 2
    };
    const CompressedTokenizer compressed = CompressedTokenizer::from_token_strings(tokens);
    EXPECT_EQ(compressed.size(), 5);
    EXPECT_EQ(compressed.original_size(), 11);
    const auto table = compressed.lookup_table();
    EXPECT_EQ(std::vector<int64_t>(table.begin(), table.end()),
              (std::vector<int64_t>{0, 0, 0, 1, 0, 2, 3, 3, 4, 4, 2}));
}

TEST(CompressedTokenizer, CompressPassesNegativeIdsAndRejectsOutOfRange) {
    const CompressedTokenizer compressed = CompressedTokenizer::from_lookup_table({0, 1, 0, 2, 1});
    EXPECT_EQ(compressed.size(), 3);
    EXPECT_EQ(compressed.compress(std::vector<int64_t>{4, -1, 3, 0, -7}), (std::vector<int64_t>{1, -1, 2, 0, -7}));
    EXPECT_EQ(compressed.compress(int64_t{2}), 0);
    const std::string message = error_of([&] { compressed.compress(std::vector<int64_t>{0, 5}); });
    EXPECT_NE(message.find("token id 5 at position 1"), std::string::npos) << message;

    ttl::Tensor ids = ttl::Tensor::empty({2, 2}, ttl::DType::I64);
    const std::vector<int64_t> values{3, 4, -1, 1};
    std::copy(values.begin(), values.end(), ids.data<int64_t>());
    const ttl::Tensor out = compressed.compress(ids);
    EXPECT_EQ(out.shape(), (ttl::Shape{2, 2}));
    EXPECT_EQ(std::vector<int64_t>(out.span<int64_t>().begin(), out.span<int64_t>().end()),
              (std::vector<int64_t>{2, 1, -1, 1}));
    EXPECT_NE(error_of([&] { compressed.compress(ttl::Tensor::zeros({2}, ttl::DType::I32)); }).find("i64"),
              std::string::npos);
}

TEST(CompressedTokenizer, LookupTableMustBeNumberedByFirstAppearance) {
    EXPECT_NE(error_of([] { CompressedTokenizer::from_lookup_table({0, 2}); }).find("entry 1 is 2"), std::string::npos);
    EXPECT_THROW(CompressedTokenizer::from_lookup_table({1}), std::invalid_argument);
    EXPECT_THROW(CompressedTokenizer::from_lookup_table({0, -1}), std::invalid_argument);
    EXPECT_EQ(CompressedTokenizer::from_lookup_table({}).size(), 0);
}

CompressedTokenizer golden_compressed_tokenizer() {
    const ttl::Tensor table = ttlm::io::load_npy(kGolden + "hash_default/lookup_table_int32.npy");
    const auto values = table.span<int32_t>();
    return CompressedTokenizer::from_lookup_table(std::vector<int64_t>(values.begin(), values.end()));
}

// The golden table is a valid first-appearance numbering with the documented size, and it
// compresses every golden case's input ids (text cases, and the forward cases' padded/negative ids)
// into the reference's compressed ids.
TEST(CompressedTokenizer, GoldenTableCompressesEveryGoldenCase) {
    const CompressedTokenizer compressed = golden_compressed_tokenizer();
    EXPECT_EQ(compressed.original_size(), 128815);
    EXPECT_EQ(compressed.size(), 98627);
    std::ifstream in(kGolden + "hash_default/cases.json");
    ASSERT_TRUE(in);
    for (const auto& c : nlohmann::json::parse(in))
        for (size_t row = 0; row < c.at("input_ids").size(); ++row)
            EXPECT_EQ(compressed.compress(c.at("input_ids")[row].get<std::vector<int64_t>>()),
                      c.at("compressed_ids")[row].get<std::vector<int64_t>>())
                << c.at("name");
    for (const std::string folder : {"small_h64", "small_h96"}) {
        const ttl::Tensor input = ttlm::io::load_npy(kGolden + folder + "/input_ids.npy");
        const ttl::Tensor expected = ttlm::io::load_npy(kGolden + folder + "/compressed_ids.npy");
        const ttl::Tensor got = compressed.compress(input);
        ASSERT_EQ(got.shape(), expected.shape());
        EXPECT_TRUE(
            std::equal(got.span<int64_t>().begin(), got.span<int64_t>().end(), expected.span<int64_t>().begin()))
            << folder;
    }
}

// The whole DeepSeek-V3 table, exact, against the Python reference's.
TEST(CompressedTokenizer, DeepSeekV3TableEqualsReference) {
    if (!std::filesystem::exists(kTokenizerDir + "/tokenizer.json"))
        GTEST_SKIP() << "DeepSeek-V3 tokenizer files absent (run scripts/fetch-tokenizer.sh)";
    const auto tokenizer = ttlm::io::Tokenizer::from_file(kTokenizerDir);
    const auto start = std::chrono::steady_clock::now();
    const CompressedTokenizer compressed(tokenizer);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::printf("compressed table of %lld ids built in %.1f ms\n", static_cast<long long>(compressed.original_size()),
                ms);

    EXPECT_EQ(compressed.original_size(), 128815);
    EXPECT_EQ(compressed.size(), 98627);
    EXPECT_EQ(compressed.compress(int64_t{2}), 2);  // the compressed pad id
    const CompressedTokenizer golden = golden_compressed_tokenizer();
    ASSERT_EQ(golden.original_size(), compressed.original_size());
    const auto expected = golden.lookup_table();
    const auto table = compressed.lookup_table();
    int64_t mismatches = 0;
    for (size_t id = 0; id < table.size(); ++id)
        if (table[id] != expected[id] && ++mismatches <= 10)
            ADD_FAILURE() << "id " << id << " ("
                          << nlohmann::json(tokenizer.id_to_token(static_cast<int64_t>(id))).dump()
                          << "): " << table[id] << ", reference " << expected[id];
    EXPECT_EQ(mismatches, 0);
    EXPECT_LT(ms, 5000.0);  // loose: shared CI machines and sanitizer builds; ~60 ms of CPU here
}

}  // namespace
