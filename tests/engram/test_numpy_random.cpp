// numpy's SeedSequence, PCG64 and Generator.integers(dtype=int64), bit for bit, against
// golden/numpy_random.json (written by numpy 1.24 through scripts/reference/engram_reference.py).
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "models/engram/numpy_random.hpp"

namespace {

using ttlm::engram::NumpyGenerator;
using ttlm::engram::Pcg64;
using ttlm::engram::SeedSequence;

const nlohmann::json& golden() {
    static const nlohmann::json doc = [] {
        std::ifstream in(TTLM_SOURCE_DIR "/tests/engram/golden/numpy_random.json");
        if (!in) throw std::runtime_error("missing tests/engram/golden/numpy_random.json");
        return nlohmann::json::parse(in);
    }();
    return doc;
}

TEST(NumpyRandom, SeedSequencePoolAndState) {
    for (const auto& c : golden()["cases"]) {
        const uint64_t seed = c["seed"].get<uint64_t>();
        SCOPED_TRACE(::testing::Message() << "seed " << seed);
        SeedSequence seq(seed);
        std::vector<uint32_t> pool(seq.pool().begin(), seq.pool().end());
        EXPECT_EQ(pool, c["pool"].get<std::vector<uint32_t>>());
        EXPECT_EQ(seq.generate_state_u32(8), c["state_u32"].get<std::vector<uint32_t>>());
        EXPECT_EQ(seq.generate_state_u64(4), c["state_u64"].get<std::vector<uint64_t>>());
    }
}

TEST(NumpyRandom, Pcg64RawOutputs) {
    for (const auto& c : golden()["cases"]) {
        const uint64_t seed = c["seed"].get<uint64_t>();
        SCOPED_TRACE(::testing::Message() << "seed " << seed);
        Pcg64 bits(seed);
        std::vector<uint64_t> raw;
        for (size_t i = 0; i < c["random_raw"].size(); ++i) raw.push_back(bits.next_uint64());
        EXPECT_EQ(raw, c["random_raw"].get<std::vector<uint64_t>>());
    }
}

// One generator per seed answers the whole sequence of calls: 32-bit draws leave half a word
// buffered across calls, so the order matters.
TEST(NumpyRandom, IntegersSequencesMatchNumpy) {
    for (const auto& c : golden()["cases"]) {
        const uint64_t seed = c["seed"].get<uint64_t>();
        NumpyGenerator rng(seed);
        for (const auto& call : c["integers"]) {
            const int64_t low = call["low"].get<int64_t>();
            const int64_t high = call["high"].get<int64_t>();
            const bool endpoint = call["endpoint"].get<bool>();
            SCOPED_TRACE(::testing::Message()
                         << "seed " << seed << " integers(" << low << ", " << high << ", endpoint=" << endpoint << ")");
            EXPECT_EQ(rng.integers(low, high, call["size"].get<size_t>(), endpoint),
                      call["values"].get<std::vector<int64_t>>());
        }
    }
}

TEST(NumpyRandom, MultiplierDrawsMatchNumpy) {
    for (const auto& d : golden()["multiplier_draws"]) {
        NumpyGenerator rng(d["seed"].get<uint64_t>());
        const auto expected = d["values"].get<std::vector<int64_t>>();
        EXPECT_EQ(rng.integers(0, d["high"].get<int64_t>(), expected.size()), expected) << "seed " << d["seed"];
    }
}

// The check values of engram.md: default_rng(0 + 10007 * 1).integers(0, half_bound, 3) -> 2r + 1.
TEST(NumpyRandom, EngramLayerOneMultipliers) {
    const int64_t half_bound = (INT64_MAX / 98627) / 2;
    std::vector<int64_t> r = ttlm::engram::default_rng(10007).integers(0, half_bound, 3);
    for (auto& v : r) v = 2 * v + 1;
    EXPECT_EQ(r, (std::vector<int64_t>{76993395940407, 4862694818241, 36129212583461}));
}

TEST(NumpyRandom, EmptyIntervalIsAnError) {
    NumpyGenerator rng(0);
    EXPECT_THROW(rng.integers(5, 5, 1), std::invalid_argument);
    EXPECT_THROW(rng.integers(5, 4, 1, /*endpoint=*/true), std::invalid_argument);
    EXPECT_EQ(rng.integers(5, 5, 2, /*endpoint=*/true), (std::vector<int64_t>{5, 5}));
    try {
        rng.integers(3, 1, 1);
        FAIL() << "no exception";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("high (1)"), std::string::npos) << e.what();
    }
}

}  // namespace
