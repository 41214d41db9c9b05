// N-gram hashing against the goldens of scripts/reference/engram_reference.py (numpy + sympy, the
// reference's own algorithm): multipliers, primes, offsets, and the hash ids of every golden case.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "io/npy.hpp"
#include "io/tokenizer.hpp"
#include "models/engram/compressed_tokenizer.hpp"
#include "models/engram/ngram_hash.hpp"

namespace {

using ttlm::engram::EngramConfig;
using ttlm::engram::NgramHashMapping;

constexpr int64_t kDeepSeekCompressedVocab = 98627;

nlohmann::json load_golden(const std::string& relative) {
    const std::string path = TTLM_SOURCE_DIR "/tests/engram/golden/" + relative;
    std::ifstream in(path);
    if (!in) throw std::runtime_error("missing golden file " + path);
    return nlohmann::json::parse(in);
}


ttl::Tensor ids_tensor(const nlohmann::json& rows) {
    const auto batch = static_cast<int64_t>(rows.size());
    const auto length = static_cast<int64_t>(rows.at(0).size());
    ttl::Tensor t = ttl::Tensor::empty({batch, length}, ttl::DType::I64);
    int64_t* out = t.data<int64_t>();
    for (const auto& row : rows)
        for (const auto& v : row) *out++ = v.get<int64_t>();
    return t;
}

std::vector<int64_t> flatten(const nlohmann::json& j) {
    std::vector<int64_t> out;
    auto walk = [&](auto&& self, const nlohmann::json& x) -> void {
        if (x.is_array())
            for (const auto& e : x) self(self, e);
        else
            out.push_back(x.get<int64_t>());
    };
    walk(walk, j);
    return out;
}

// A mapping built from a golden folder's config.json and hash_config.json's vocabulary facts.
NgramHashMapping mapping_for(const std::string& folder) {
    const auto hash_config = load_golden(folder + "/hash_config.json");
    return NgramHashMapping(EngramConfig::from_json_file(TTLM_SOURCE_DIR "/tests/engram/golden/" + folder + "/config.json"),
                            hash_config.at("tokenizer_vocab_size").get<int64_t>(),
                            hash_config.at("compressed_pad_id").get<int64_t>());
}

std::string error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "(no std::invalid_argument)";
}

TEST(NgramHash, DefaultConfigCheckValues) {
    NgramHashMapping mapping(EngramConfig{}, kDeepSeekCompressedVocab, 2);
    const auto& layer1 = mapping.layer(1);
    EXPECT_EQ(layer1.multipliers, (std::vector<int64_t>{76993395940407, 4862694818241, 36129212583461}));
    ASSERT_EQ(layer1.head_sizes.size(), 16u);
    EXPECT_EQ(std::vector<int64_t>(layer1.head_sizes.begin(), layer1.head_sizes.begin() + 3),
              (std::vector<int64_t>{646403, 646411, 646421}));
    EXPECT_EQ(layer1.head_offsets[0], 0);
    EXPECT_EQ(layer1.head_offsets[1], 646403);
    // Layer 15 continues the prime chain after layer 1's last prime.
    EXPECT_GT(mapping.layer(15).head_sizes.front(), layer1.head_sizes[7]);
    std::set<int64_t> all(layer1.head_sizes.begin(), layer1.head_sizes.end());
    all.insert(mapping.layer(15).head_sizes.begin(), mapping.layer(15).head_sizes.end());
    EXPECT_EQ(all.size(), 32u) << "primes are never reused";
}

TEST(NgramHash, HashConfigJsonEqualsReference) {
    for (const std::string folder : {"hash_default", "hash_ngram4", "small_h64", "small_h96"}) {
        SCOPED_TRACE(folder);
        EXPECT_EQ(mapping_for(folder).hash_config_json(), load_golden(folder + "/hash_config.json"));
    }
}

TEST(NgramHash, WriteHashConfigJsonRoundTrips) {
    NgramHashMapping mapping = mapping_for("hash_default");
    const std::string path = TTLM_BINARY_DIR "/engram_test_hash_config.json";
    mapping.write_hash_config_json(path);
    std::ifstream in(path);
    EXPECT_EQ(nlohmann::json::parse(in), load_golden("hash_default/hash_config.json"));
    EXPECT_THROW(mapping.write_hash_config_json(TTLM_BINARY_DIR "/no/such/folder/hash_config.json"),
                 std::runtime_error);
}

TEST(NgramHash, HashIdsOfEveryGoldenCase) {
    for (const std::string folder : {"hash_default", "hash_ngram4"}) {
        NgramHashMapping mapping = mapping_for(folder);
        for (const auto& c : load_golden(folder + "/cases.json")) {
            const ttl::Tensor compressed = ids_tensor(c.at("compressed_ids"));
            for (const auto& [layer, expected] : c.at("hash_ids").items()) {
                SCOPED_TRACE(folder + " " + c.at("name").get<std::string>() + " layer " + layer);
                const ttl::Tensor hashes = mapping.hash_ids(compressed, std::stoi(layer));
                ASSERT_EQ(hashes.shape(),
                          (ttl::Shape{compressed.dim(0), compressed.dim(1), mapping.config().hash_heads()}));
                const auto got = hashes.span<int64_t>();
                EXPECT_EQ(std::vector<int64_t>(got.begin(), got.end()), flatten(expected));
            }
        }
    }
}

// Text to hash ids with ttlm alone (tokenizer, compressed tokenizer, hashing) equals the reference
// pipeline (transformers.js ids, the Python compressed tokenizer and hashing), padding included.
TEST(NgramHash, TextToHashIdsEndToEnd) {
    const std::string tokenizer_dir = TTLM_SOURCE_DIR "/.cache/tokenizers/deepseek_v3";
    if (!std::filesystem::exists(tokenizer_dir + "/tokenizer.json"))
        GTEST_SKIP() << "DeepSeek-V3 tokenizer files absent (run scripts/fetch-tokenizer.sh)";
    const auto tokenizer = ttlm::io::Tokenizer::from_file(tokenizer_dir);
    const ttlm::engram::CompressedTokenizer compressed(tokenizer);
    const EngramConfig config;
    const NgramHashMapping mapping(config, compressed);
    for (const auto& c : load_golden("hash_default/cases.json")) {
        SCOPED_TRACE(c.at("name").get<std::string>());
        const auto texts = c.at("texts").get<std::vector<std::string>>();
        const auto length = static_cast<int64_t>(c.at("input_ids").at(0).size());
        // One row per text, BOS first (tokenizer_config.json), right-padded with the original pad id.
        ttl::Tensor ids = ttl::Tensor::empty({static_cast<int64_t>(texts.size()), length}, ttl::DType::I64);
        for (size_t row = 0; row < texts.size(); ++row) {
            std::vector<int64_t> encoded = tokenizer.encode(texts[row]);
            ASSERT_LE(static_cast<int64_t>(encoded.size()), length);
            encoded.resize(static_cast<size_t>(length), config.pad_id);
            std::copy(encoded.begin(), encoded.end(), ids.data<int64_t>() + row * length);
        }
        const ttl::Tensor compressed_ids = compressed.compress(ids);
        EXPECT_EQ(flatten(c.at("compressed_ids")),
                  std::vector<int64_t>(compressed_ids.span<int64_t>().begin(), compressed_ids.span<int64_t>().end()));
        for (const auto& [layer, expected] : c.at("hash_ids").items()) {
            const ttl::Tensor hashes = mapping.hash_ids(compressed_ids, std::stoi(layer));
            EXPECT_EQ(std::vector<int64_t>(hashes.span<int64_t>().begin(), hashes.span<int64_t>().end()),
                      flatten(expected))
                << "layer " << layer;
        }
    }
}

// The float-stage cases hash the ids their forward pass used.
TEST(NgramHash, HashIdsOfTheSmallForwardCases) {
    for (const std::string folder : {"small_h64", "small_h96"}) {
        SCOPED_TRACE(folder);
        const auto run = load_golden(folder + "/run.json");
        const std::string dir = TTLM_SOURCE_DIR "/tests/engram/golden/" + folder;
        const ttl::Tensor compressed = ttlm::io::load_npy(dir + "/compressed_ids.npy");
        const ttl::Tensor expected = ttlm::io::load_npy(dir + "/hash_ids.npy");
        const ttl::Tensor hashes = mapping_for(folder).hash_ids(compressed, run.at("layer_id").get<int>());
        ASSERT_EQ(hashes.shape(), expected.shape());
        const auto got = hashes.span<int64_t>();
        const auto want = expected.span<int64_t>();
        EXPECT_TRUE(std::equal(got.begin(), got.end(), want.begin()));
    }
}

// Every hash id indexes its own head's table: 0 <= hash < prime, and it equals the formula
// evaluated with plain division (hash_ids uses a Barrett reduction). Ids span the whole vocabulary.
TEST(NgramHash, PropertyHashesMatchPlainFormulaAndStayBelowPrime) {
    EngramConfig config;
    NgramHashMapping mapping(config, kDeepSeekCompressedVocab, 2);
    std::mt19937_64 rng(7);
    std::uniform_int_distribution<int64_t> id(-3, kDeepSeekCompressedVocab - 1);
    const int64_t batch = 3, length = 500;
    ttl::Tensor ids = ttl::Tensor::empty({batch, length}, ttl::DType::I64);
    for (auto& v : ids.span<int64_t>()) v = id(rng);
    ids.span<int64_t>()[7] = kDeepSeekCompressedVocab - 1;
    for (int layer_id : config.layer_ids) {
        const auto& layer = mapping.layer(layer_id);
        const ttl::Tensor hashes = mapping.hash_ids(ids, layer_id);
        const int64_t* x = ids.data<int64_t>();
        const int64_t* h = hashes.data<int64_t>();
        for (int64_t b = 0; b < batch; ++b)
            for (int64_t t = 0; t < length; ++t) {
                auto shifted = [&](int k) { return t >= k ? x[b * length + t - k] : int64_t{2}; };
                int64_t mix = shifted(0) * layer.multipliers[0];
                for (int k = 1; k < config.max_ngram_size; ++k) {
                    mix ^= shifted(k) * layer.multipliers[k];
                    for (int j = 0; j < config.n_head_per_ngram; ++j) {
                        const int head = (k - 1) * config.n_head_per_ngram + j;
                        const int64_t prime = layer.head_sizes[head];
                        const int64_t expected = ((mix % prime) + prime) % prime;
                        const int64_t got = h[(b * length + t) * config.hash_heads() + head];
                        ASSERT_EQ(got, expected) << "b " << b << " t " << t << " head " << head;
                        ASSERT_GE(got, 0);
                        ASSERT_LT(got, prime);
                    }
                }
            }
    }
}

TEST(NgramHash, IsPrimeAgreesWithASieveAndKnownHardCases) {
    const int limit = 200000;
    std::vector<bool> composite(limit, false);
    composite[0] = composite[1] = true;
    for (int i = 2; i * i < limit; ++i)
        if (!composite[i])
            for (int j = i * i; j < limit; j += i) composite[j] = true;
    for (int n = 0; n < limit; ++n) ASSERT_EQ(ttlm::engram::is_prime(n), !composite[n]) << n;
    // Carmichael numbers and strong pseudoprimes to many small bases.
    for (uint64_t n : {561ULL, 2047ULL, 3215031751ULL, 3474749660383ULL, 341550071728321ULL, 3825123056546413051ULL})
        EXPECT_FALSE(ttlm::engram::is_prime(n)) << n;
    for (uint64_t n : {2305843009213693951ULL /* 2^61-1 */, 18446744073709551557ULL /* largest 64-bit prime */})
        EXPECT_TRUE(ttlm::engram::is_prime(n)) << n;
    EXPECT_FALSE(ttlm::engram::is_prime(18446744073709551615ULL));
}

TEST(NgramHash, BadConfigNamesTheField) {
    auto with = [](auto edit) {
        EngramConfig c;
        edit(c);
        return c;
    };
    EXPECT_NE(error_of([&] {
                  NgramHashMapping(with([](auto& c) { c.n_head_per_ngram = 0; }), 100, 2);
              }).find("n_head_per_ngram"),
              std::string::npos);
    EXPECT_NE(error_of([&] {
                  NgramHashMapping(with([](auto& c) { c.engram_vocab_size = {646400, -5}; }), 100, 2);
              }).find("engram_vocab_size"),
              std::string::npos);
    EXPECT_NE(error_of([&] {
                  NgramHashMapping(with([](auto& c) { c.engram_vocab_size = {646400}; }), 100, 2);
              }).find("engram_vocab_size"),
              std::string::npos);
    EXPECT_NE(error_of([&] {
                  NgramHashMapping(with([](auto& c) { c.engram_vocab_size = {1LL << 50, 5}; }), 100, 2);
              }).find("engram_vocab_size[0]"),
              std::string::npos);
    EXPECT_NE(
        error_of([&] { NgramHashMapping(with([](auto& c) { c.max_ngram_size = 0; }), 100, 2); }).find("max_ngram_size"),
        std::string::npos);
    EXPECT_NE(error_of([&] {
                  NgramHashMapping(with([](auto& c) { c.layer_ids = {1, 1}; }), 100, 2);
              }).find("layer_ids"),
              std::string::npos);
    EXPECT_NE(error_of([&] { NgramHashMapping(with([](auto& c) { c.seed = UINT64_MAX; }), 100, 2); }).find("seed"),
              std::string::npos);
    EXPECT_NE(error_of([] { NgramHashMapping(EngramConfig{}, 0, 0); }).find("tokenizer_vocab_size"), std::string::npos);
    EXPECT_NE(error_of([] { NgramHashMapping(EngramConfig{}, 100, 100); }).find("compressed_pad_id"),
              std::string::npos);
}

TEST(NgramHash, BadInputNamesTheProblem) {
    NgramHashMapping mapping(EngramConfig{}, kDeepSeekCompressedVocab, 2);
    ttl::Tensor ids = ttl::Tensor::zeros({1, 4}, ttl::DType::I64);
    EXPECT_NE(error_of([&] { mapping.hash_ids(ids, 3); }).find("layer 3"), std::string::npos);
    EXPECT_NE(error_of([&] { mapping.hash_ids(ttl::Tensor::zeros({4}, ttl::DType::I64), 1); }).find("i64[B, T]"),
              std::string::npos);
    EXPECT_NE(error_of([&] {
                  mapping.hash_ids(ttl::Tensor::zeros({1, 4}, ttl::DType::F32), 1);
              }).find("i64[B, T]"),
              std::string::npos);
    ids.span<int64_t>()[2] = 128000;  // an original id, not a compressed one
    const std::string message = error_of([&] { mapping.hash_ids(ids, 1); });
    EXPECT_NE(message.find("128000 at [0, 2]"), std::string::npos) << message;
    EXPECT_EQ(mapping.hash_ids(ttl::Tensor::zeros({2, 0}, ttl::DType::I64), 1).shape(), (ttl::Shape{2, 0, 16}));
}

// engram.md: "the hash of 32K tokens in a few ms". The bound here is loose (shared CI machines,
// sanitizer builds); the figure is printed.
TEST(NgramHash, Hashes32KTokensQuickly) {
    NgramHashMapping mapping(EngramConfig{}, kDeepSeekCompressedVocab, 2);
    ttl::Tensor ids = ttl::Tensor::empty({1, 32768}, ttl::DType::I64);
    std::mt19937_64 rng(1);
    for (auto& v : ids.span<int64_t>()) v = static_cast<int64_t>(rng() % kDeepSeekCompressedVocab);
    mapping.hash_ids(ids, 1);  // warm-up
    const auto start = std::chrono::steady_clock::now();
    const ttl::Tensor hashes = mapping.hash_ids(ids, 1);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::printf("hash_ids of 32768 tokens x 16 heads: %.2f ms\n", ms);
    EXPECT_EQ(hashes.numel(), 32768 * 16);
    EXPECT_LT(ms, 250.0);
}

}  // namespace
