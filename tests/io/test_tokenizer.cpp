// The DeepSeek-V3 tokenizer against golden ids and decodes from an independent implementation
// (transformers.js, scripts/reference/tokenizer_oracle.mjs), plus its vocabulary facts.
//
// Where transformers.js and HF's Rust library could disagree, the golden texts stay clear of it:
//   - JavaScript's \s counts U+FEFF and not U+0085; Oniguruma (Rust) the reverse. ttlm follows
//     Oniguruma; test_tokenizer_pipeline.cpp checks that on its own.
//   - Characters new in Unicode 15 have no category in PCRE2 10.42 (Unicode 14); none is used.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "io/tokenizer.hpp"

namespace {

using ttlm::io::Tokenizer;

const std::string kTokenizerDir = TTLM_SOURCE_DIR "/.cache/tokenizers/deepseek_v3";
const std::string kGoldenPath = TTLM_SOURCE_DIR "/tests/io/tokenizer_golden/deepseek_v3.json";

// Loaded once per test program: the file is 7.8 MB.
const Tokenizer* deepseek() {
    static const std::unique_ptr<Tokenizer> tokenizer = [] {
        if (!std::filesystem::exists(kTokenizerDir + "/tokenizer.json")) return std::unique_ptr<Tokenizer>();
        return std::make_unique<Tokenizer>(Tokenizer::from_file(kTokenizerDir));
    }();
    return tokenizer.get();
}

#define REQUIRE_DEEPSEEK()                                              \
    if (!deepseek())                                                    \
        GTEST_SKIP() << "no DeepSeek-V3 tokenizer in " << kTokenizerDir \
                     << " (run `bash scripts/fetch-tokenizer.sh` or `make test`)";

nlohmann::json golden() {
    std::ifstream in(kGoldenPath);
    EXPECT_TRUE(in) << "cannot open " << kGoldenPath;
    return nlohmann::json::parse(in);
}

TEST(TokenizerDeepSeekV3, EncodesAndDecodesLikeTheOracle) {
    REQUIRE_DEEPSEEK();
    const Tokenizer& tokenizer = *deepseek();
    const nlohmann::json cases = golden().at("cases");
    ASSERT_GE(cases.size(), 30u);
    for (const auto& c : cases) {
        const std::string text = c.at("text");
        SCOPED_TRACE(c.at("name").get<std::string>());
        const auto ids = c.at("ids").get<std::vector<int64_t>>();
        const auto ids_with_special = c.at("ids_with_special").get<std::vector<int64_t>>();
        EXPECT_EQ(tokenizer.encode(text, false), ids);
        EXPECT_EQ(tokenizer.encode(text), ids_with_special);
        EXPECT_EQ(tokenizer.decode(ids_with_special), c.at("decoded").get<std::string>());
        EXPECT_EQ(tokenizer.decode(ids_with_special, true), c.at("decoded_skip_special").get<std::string>());
        EXPECT_EQ(tokenizer.decode(ids), text);  // every golden text is valid UTF-8
    }
}

TEST(TokenizerDeepSeekV3, DecodesSingleIdsLikeTheOracle) {
    REQUIRE_DEEPSEEK();
    const nlohmann::json decodes = golden().at("single_id_decodes");
    ASSERT_GE(decodes.size(), 50u);
    size_t replaced = 0;
    for (const auto& d : decodes) {
        const std::vector<int64_t> ids{d.at("id").get<int64_t>()};
        const std::string expected = d.at("text");
        EXPECT_EQ(deepseek()->decode(ids), expected) << "id " << ids[0];
        replaced += expected.find("\xEF\xBF\xBD") != std::string::npos;
    }
    EXPECT_GT(replaced, 0u) << "the golden set should hold ids that are parts of a UTF-8 sequence";
}

TEST(TokenizerDeepSeekV3, VocabularyFacts) {
    REQUIRE_DEEPSEEK();
    const Tokenizer& tokenizer = *deepseek();
    EXPECT_EQ(tokenizer.size(), 128815);
    EXPECT_EQ(tokenizer.bos_id(), 0);
    EXPECT_EQ(tokenizer.eos_id(), 1);
    EXPECT_EQ(tokenizer.id_to_token(0), "<｜begin▁of▁sentence｜>");
    EXPECT_EQ(tokenizer.id_to_token(2), "<｜▁pad▁｜>");
    EXPECT_EQ(tokenizer.id_to_token(16), ".");
    EXPECT_EQ(tokenizer.id_to_token(270), "Ġthe");
    EXPECT_EQ(tokenizer.id_to_token(127999), "å±ĭæªĲ");
    EXPECT_EQ(tokenizer.id_to_token(128000), "<｜place▁holder▁no▁0｜>");
    EXPECT_EQ(tokenizer.id_to_token(128814), "<｜tool▁sep｜>");
    EXPECT_EQ(tokenizer.token_to_id("Ġthe"), 270);
    EXPECT_EQ(tokenizer.token_to_id("Ċ"), 201);
    EXPECT_EQ(tokenizer.token_to_id("<｜User｜>"), tokenizer.encode("<｜User｜>", false).at(0));
    EXPECT_EQ(tokenizer.token_to_id("no such token"), std::nullopt);
    EXPECT_THROW(tokenizer.id_to_token(128815), std::out_of_range);
    EXPECT_THROW(tokenizer.id_to_token(-1), std::out_of_range);
}

TEST(TokenizerDeepSeekV3, EngramDemoTextIsFourteenIdsWithBos) {
    REQUIRE_DEEPSEEK();
    const auto ids = deepseek()->encode("Only Alexander the Great could tame the horse Bucephalus.");
    ASSERT_EQ(ids.size(), 14u);
    EXPECT_EQ(ids.front(), 0);
    EXPECT_EQ(ids[1], 22898);  // "Only"
}

TEST(TokenizerDeepSeekV3, TokenizerJsonAloneAddsNoBos) {
    REQUIRE_DEEPSEEK();
    // Without tokenizer_config.json the file's own post-processor (ByteLevel) rules, as in HF's
    // Tokenizer::from_file.
    const Tokenizer bare = Tokenizer::from_file(kTokenizerDir + "/tokenizer.json");
    const std::string text = "Only Alexander the Great";
    EXPECT_EQ(bare.encode(text), deepseek()->encode(text, false));
    EXPECT_EQ(bare.bos_id(), std::nullopt);
    EXPECT_EQ(bare.size(), 128815);
}

TEST(TokenizerDeepSeekV3, RejectsInvalidInputClearly) {
    REQUIRE_DEEPSEEK();
    try {
        deepseek()->encode("ok \xC3\x28 bad");
        FAIL() << "invalid UTF-8 was accepted";
    } catch (const std::invalid_argument& error) {
        EXPECT_NE(std::string(error.what()).find("byte offset 3"), std::string::npos) << error.what();
    }
    const std::vector<int64_t> out_of_range{5, 128815};
    EXPECT_THROW(deepseek()->decode(out_of_range), std::out_of_range);
    const std::vector<int64_t> negative{-1};
    EXPECT_THROW(deepseek()->decode(negative), std::out_of_range);
}

TEST(TokenizerDeepSeekV3, ConcurrentEncodesAgree) {
    REQUIRE_DEEPSEEK();
    const nlohmann::json cases = golden().at("cases");
    std::vector<std::thread> threads;
    std::vector<int> mismatches(4, 0);
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int round = 0; round < 5; ++round) {
                for (const auto& c : cases) {
                    const auto ids = c.at("ids").get<std::vector<int64_t>>();
                    mismatches[t] += deepseek()->encode(c.at("text").get<std::string>(), false) != ids;
                }
            }
        });
    }
    for (auto& thread : threads) thread.join();
    for (int t = 0; t < 4; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

// The budget of the brief: loading well under 1 s, encoding English at 1 MB/s or more. Asserted with
// a wide margin (the suite shares two cores); the figures are printed for BENCHMARKS.md.
TEST(TokenizerDeepSeekV3, LoadsAndEncodesFastEnough) {
#if defined(__SANITIZE_ADDRESS__) || !defined(NDEBUG)
    GTEST_SKIP() << "timings mean nothing in a debug or sanitizer build";
#endif
    REQUIRE_DEEPSEEK();
    std::string text;
    const std::filesystem::path licenses = "/usr/share/common-licenses";  // Debian's base-files
    if (std::filesystem::is_directory(licenses)) {
        for (const auto& entry : std::filesystem::directory_iterator(licenses)) {
            if (!entry.is_regular_file() || entry.is_symlink()) continue;
            std::ifstream in(entry.path());
            text.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        }
    }
    if (text.size() < 100000) GTEST_SKIP() << "no English text in " << licenses;
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    const Tokenizer fresh = Tokenizer::from_file(kTokenizerDir);  // its word cache is empty
    const auto loaded = Clock::now();
    const auto ids = fresh.encode(text, false);
    const auto encoded = Clock::now();
    const double load_s = std::chrono::duration<double>(loaded - start).count();
    const double mb_per_s = text.size() / 1e6 / std::chrono::duration<double>(encoded - loaded).count();
    std::cout << "load " << load_s * 1e3 << " ms; encode " << text.size() << " bytes -> " << ids.size() << " ids at "
              << mb_per_s << " MB/s (cold word cache)\n";
    EXPECT_LT(load_s, 3.0);
    EXPECT_GT(mb_per_s, 1.0);
    EXPECT_EQ(fresh.decode(ids), text);
}

TEST(TokenizerFiles, MissingFilesAreSystemErrorsNamingThePath) {
    const auto dir = std::filesystem::temp_directory_path() / ("ttlm_tokenizer_empty_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    try {
        Tokenizer::from_file(dir.string());
        FAIL() << "a folder without tokenizer.json was accepted";
    } catch (const std::system_error& error) {
        EXPECT_NE(std::string(error.what()).find("tokenizer.json"), std::string::npos) << error.what();
    }
    try {
        Tokenizer::from_file((dir / "nope.json").string());
        FAIL() << "a missing file was accepted";
    } catch (const std::system_error& error) {
        EXPECT_NE(std::string(error.what()).find("nope.json"), std::string::npos) << error.what();
    }
    std::filesystem::remove_all(dir);
}

}  // namespace
