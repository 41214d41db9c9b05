// Bad input to Engram gets a clear error naming the file and the field: tested through the
// library and through the `ttlm engram` command a user runs.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "io/npy.hpp"
#include "io/safetensors.hpp"
#include "models/engram/engram.hpp"

namespace {

using namespace ttlm::engram;
using ttl::Tensor;

const std::string kTtlm = TTLM_BINARY_DIR "/tools/ttlm/ttlm";
const std::string kTokenizer = TTLM_SOURCE_DIR "/.cache/tokenizers/deepseek_v3";

struct CommandResult {
    int status;
    std::string output;
};

CommandResult run_ttlm(const std::string& args) {
    std::string cmd = kTtlm + " " + args + " 2>&1";
    CommandResult r{0, {}};
    FILE* p = popen(cmd.c_str(), "r");
    std::array<char, 4096> buf;
    while (size_t n = fread(buf.data(), 1, buf.size(), p)) r.output.append(buf.data(), n);
    r.status = pclose(p);
    return r;
}

std::filesystem::path scratch(const std::string& name) {
    auto dir = std::filesystem::temp_directory_path() / ("ttlm_engram_errors_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    return dir / name;
}

#define EXPECT_HAS(text, part) EXPECT_NE((text).find(part), std::string::npos) << "missing '" << (part) << "' in: " << (text)

EngramConfig tiny_config() {
    EngramConfig c;
    c.engram_vocab_size = {100, 150};
    c.n_embed_per_ngram = 32;
    c.n_head_per_ngram = 4;
    c.hidden_size = 64;
    return c;
}

TEST(EngramErrors, ZeroOrNegativeConfigNamesTheField) {
    EngramConfig c = tiny_config();
    c.hidden_size = 0;
    try {
        c.validate();
        FAIL() << "no error";
    } catch (const std::invalid_argument& e) {
        EXPECT_HAS(std::string(e.what()), "hidden_size must be positive, got 0");
    }
    c = tiny_config();
    c.engram_vocab_size = {100, -5};
    EXPECT_THROW(c.validate(), std::invalid_argument);
    CommandResult r = run_ttlm("engram --hidden-size -4 --tokenizer " + kTokenizer);
    EXPECT_NE(r.status, 0);
    EXPECT_HAS(r.output, "hidden_size must be positive, got -4");
}

TEST(EngramErrors, WeightsOfTheWrongShapeOrDtypeNameTensorAndShape) {
    EngramConfig c = tiny_config();
    NgramHashMapping hashing(c, 1000, 2);
    const auto& layer = hashing.layer(1);
    int64_t rows = 0;
    for (int64_t p : layer.head_sizes) rows += p;
    std::vector<std::pair<std::string, Tensor>> tensors{{"multi_head_embedding.embedding.weight", Tensor({rows, 8})},
                                                        {"value_proj.weight", Tensor({64, 32})}};  // expected [64, 64]
    auto path = scratch("bad_shape.safetensors").string();
    ttlm::io::save_safetensors(path, tensors);
    try {
        EngramWeights::load(ttlm::io::SafetensorsFile::open(path), c, layer);
        FAIL() << "no error";
    } catch (const std::exception& e) {
        EXPECT_HAS(std::string(e.what()), "bad_shape.safetensors");
        EXPECT_HAS(std::string(e.what()), "value_proj.weight");
        EXPECT_HAS(std::string(e.what()), "[64, 64]");
    }
    tensors[1] = {"value_proj.weight", Tensor({64, 64}, ttl::DType::I32)};
    ttlm::io::save_safetensors(path, tensors);
    try {
        EngramWeights::load(ttlm::io::SafetensorsFile::open(path), c, layer);
        FAIL() << "no error";
    } catch (const std::exception& e) {
        EXPECT_HAS(std::string(e.what()), "value_proj.weight");
    }
    tensors.pop_back();  // a missing tensor
    ttlm::io::save_safetensors(path, tensors);
    try {
        EngramWeights::load(ttlm::io::SafetensorsFile::open(path), c, layer);
        FAIL() << "no error";
    } catch (const std::exception& e) {
        EXPECT_HAS(std::string(e.what()), "value_proj.weight");
    }
}

TEST(EngramErrors, CorruptSafetensorsFromTheCommandLine) {
    auto path = scratch("corrupt.safetensors");
    std::ofstream(path) << "\x10\x00\x00\x00\x00\x00\x00\x00{not json}......";
    CommandResult r = run_ttlm("engram --tokenizer " + kTokenizer + " --weights " + path.string());
    EXPECT_NE(r.status, 0);
    EXPECT_HAS(r.output, "corrupt.safetensors");
    EXPECT_EQ(r.output.find("Segmentation"), std::string::npos);
}

TEST(EngramErrors, MissingOrCorruptTokenizer) {
    CommandResult r = run_ttlm("engram --tokenizer /nonexistent/tokenizer.json");
    EXPECT_NE(r.status, 0);
    EXPECT_HAS(r.output, "/nonexistent/tokenizer.json");
    auto bad = scratch("tokenizer.json");
    std::ofstream(bad) << "{\"model\": {\"type\": \"BPE\", \"vocab\": [1, 2]}}";
    r = run_ttlm("engram --tokenizer " + bad.string());
    EXPECT_NE(r.status, 0);
    EXPECT_HAS(r.output, bad.string());
}

TEST(EngramErrors, HiddenStatesThatDoNotMatchTheText) {
    if (!std::filesystem::exists(kTokenizer + "/tokenizer.json")) GTEST_SKIP() << "tokenizer not fetched (make tokenizer)";
    auto path = scratch("hidden.npy").string();
    ttlm::io::save_npy(path, Tensor({1, 5, 4, 1024}));  // the demo text has 14 tokens
    CommandResult r = run_ttlm("engram --tokenizer " + kTokenizer + " --hidden-states " + path);
    EXPECT_NE(r.status, 0);
    EXPECT_HAS(r.output, "hidden.npy");
    EXPECT_HAS(r.output, "f32[1, 5, 4, 1024] does not match the text: expected f32[1, 14, 4, 1024]");
}

TEST(EngramErrors, InvalidUtf8Text) {
    if (!std::filesystem::exists(kTokenizer + "/tokenizer.json")) GTEST_SKIP() << "tokenizer not fetched (make tokenizer)";
    CommandResult r = run_ttlm("engram --tokenizer " + kTokenizer + " --text \"$(printf 'caf\\303')\"");  // 'caf' + a lone lead byte
    EXPECT_NE(r.status, 0);
    EXPECT_HAS(r.output, "--text #1");
    EXPECT_HAS(r.output, "not valid UTF-8");
}

TEST(EngramErrors, ForwardRejectsMismatchedShapes) {
    EngramConfig c = tiny_config();
    auto tok = std::make_shared<const CompressedTokenizer>(CompressedTokenizer::from_lookup_table({0, 1, 2, 3, 4}));
    auto hashing = std::make_shared<const NgramHashMapping>(c, *tok);
    Engram model(c, 1, tok, hashing, EngramWeights::random(c, hashing->layer(1), 0));
    Tensor ids({1, 3}, ttl::DType::I64);
    try {
        model.forward(ids, Tensor({1, 4, 4, 64}));
        FAIL() << "no error";
    } catch (const std::invalid_argument& e) {
        EXPECT_HAS(std::string(e.what()), "hidden_states is f32[1, 4, 4, 64], expected f32[1, 3, 4, 64]");
    }
    ids.data<int64_t>()[1] = 99;  // outside the 5-id vocabulary
    EXPECT_THROW(model.forward(ids, Tensor({1, 3, 4, 64})), std::invalid_argument);
}

}  // namespace

namespace {

TEST(EngramErrors, ConfigFileNamesTheFileAndField) {
    auto path = scratch("config.json");
    std::ofstream(path) << R"({"hidden_size": 64, "hc_multt": 4})";
    try {
        EngramConfig::from_json_file(path.string());
        FAIL() << "no error";
    } catch (const std::invalid_argument& e) {
        EXPECT_HAS(std::string(e.what()), "config.json: unknown config field 'hc_multt'");
    }
    std::ofstream(path) << R"({"hidden_size": "wide"})";
    try {
        EngramConfig::from_json_file(path.string());
        FAIL() << "no error";
    } catch (const std::invalid_argument& e) {
        EXPECT_HAS(std::string(e.what()), "config field 'hidden_size' has the wrong type");
    }
    std::ofstream(path) << R"({"n_head_per_ngram": 0})";
    EXPECT_THROW(EngramConfig::from_json_file(path.string()), std::invalid_argument);
}

}  // namespace

namespace {

TEST(EngramCommand, ConfigFileWithFlagsOverriding) {
    if (!std::filesystem::exists(kTokenizer + "/tokenizer.json")) GTEST_SKIP() << "tokenizer not fetched (make tokenizer)";
    const std::string config = TTLM_SOURCE_DIR "/tests/engram/golden/small_h64/config.json";
    CommandResult r = run_ttlm("engram --tokenizer " + kTokenizer + " --config " + config);
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_HAS(r.output, "f32[1, 14, 4, 64]");  // hidden_size 64 from the file
    EXPECT_HAS(r.output, "PASS");
    r = run_ttlm("engram --tokenizer " + kTokenizer + " --config " + config + " --hidden-size 96");
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_HAS(r.output, "f32[1, 14, 4, 96]");
    auto bad = scratch("bad_config.json");
    std::ofstream(bad) << R"({"hidden_size": 64, "typo_field": 1})";
    r = run_ttlm("engram --tokenizer " + kTokenizer + " --config " + bad.string());
    EXPECT_NE(r.status, 0);
    EXPECT_HAS(r.output, "bad_config.json: unknown config field 'typo_field'");
}

}  // namespace
