// The Engram forward, fused and unfused, against the PyTorch reference's golden stages
// (tests/engram/golden/small_*, written by scripts/reference/make_engram_goldens.sh).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "io/npy.hpp"
#include "io/safetensors.hpp"
#include "models/engram/engram.hpp"

namespace {

using namespace ttlm::engram;
using ttl::Tensor;

const std::string kGolden = TTLM_SOURCE_DIR "/tests/engram/golden/";


std::shared_ptr<const CompressedTokenizer> golden_tokenizer() {
    static auto tok = [] {
        Tensor t = ttlm::io::load_npy(kGolden + "hash_default/lookup_table_int32.npy").to(ttl::DType::I64);
        return std::make_shared<const CompressedTokenizer>(
            CompressedTokenizer::from_lookup_table(std::vector<int64_t>(t.data<int64_t>(), t.data<int64_t>() + t.numel())));
    }();
    return tok;
}

struct Golden {
    EngramConfig config;
    int layer_id = 1;
    std::unique_ptr<Engram> model;
    Tensor input_ids, hidden;
};

Golden load_case(const std::string& name) {
    const std::string dir = kGolden + name + "/";
    Golden g;
    g.config = EngramConfig::from_json_file(dir + "config.json");
    std::ifstream rf(dir + "run.json");
    g.layer_id = nlohmann::json::parse(rf)["layer_id"];
    auto tok = golden_tokenizer();
    auto hashing = std::make_shared<const NgramHashMapping>(g.config, *tok);
    auto file = ttlm::io::SafetensorsFile::open(dir + "weights.safetensors");
    auto weights = EngramWeights::load(file, g.config, hashing->layer(g.layer_id));
    g.model = std::make_unique<Engram>(g.config, g.layer_id, tok, hashing, std::move(weights));
    g.input_ids = ttlm::io::load_npy(dir + "input_ids.npy");
    g.hidden = ttlm::io::load_npy(dir + "hidden_states.npy");
    return g;
}

void expect_exact(const Tensor& got, const std::string& file, const char* what) {
    Tensor want = ttlm::io::load_npy(file);
    ASSERT_EQ(got.shape(), want.shape()) << what;
    for (int64_t i = 0; i < want.numel(); ++i) ASSERT_EQ(got.data<int64_t>()[i], want.data<int64_t>()[i]) << what << " at " << i;
}

// |got - want| <= rtol * (|want| + rms(want)): relative to the element, and to the stage's typical
// magnitude where a value is the small difference of large ones (output = gated + conv cancels).
double expect_close(const Tensor& got, const std::string& file, const char* what, double rtol) {
    Tensor want = ttlm::io::load_npy(file);
    EXPECT_EQ(got.shape(), want.shape()) << what;
    if (got.shape() != want.shape()) return INFINITY;
    double sum_sq = 0, worst = 0;
    for (float v : want.span<float>()) sum_sq += double(v) * v;
    const double atol = rtol * std::sqrt(sum_sq / std::max<int64_t>(1, want.numel()));
    for (int64_t i = 0; i < want.numel(); ++i) {
        double a = got.data<float>()[i], b = want.data<float>()[i];
        double err = std::abs(a - b);
        worst = std::max(worst, err / (std::abs(b) + atol / rtol));
        EXPECT_LE(err, rtol * std::abs(b) + atol) << what << " element " << i << ": " << a << " vs " << b;
        if (err > rtol * std::abs(b) + atol) break;
    }
    return worst;
}

class EngramGolden : public ::testing::TestWithParam<std::tuple<std::string, bool>> {};

TEST_P(EngramGolden, EveryStageMatchesTheReference) {
    auto [name, fused] = GetParam();
    Golden g = load_case(name);
    const std::string dir = kGolden + name + "/";
    ForwardOptions o;
    o.fused = fused;
    EngramStages s = g.model->forward(g.input_ids, g.hidden, o);
    expect_exact(s.compressed_ids, dir + "compressed_ids.npy", "compressed_ids");
    expect_exact(s.hash_ids, dir + "hash_ids.npy", "hash_ids");
    const double rtol = 1e-5;
    expect_close(s.embeddings, dir + "embeddings.npy", "embeddings", rtol);
    expect_close(s.value, dir + "value.npy", "value", rtol);
    expect_close(s.gates, dir + "gates.npy", "gates", rtol);
    expect_close(s.gated, dir + "gated.npy", "gated", rtol);
    expect_close(s.conv, dir + "conv.npy", "conv", rtol);
    expect_close(s.output, dir + "output.npy", "output", rtol);
}

INSTANTIATE_TEST_SUITE_P(Cases, EngramGolden,
                         ::testing::Combine(::testing::Values("small_h64", "small_h96", "small_h40"), ::testing::Bool()),
                         [](const auto& info) {
                             return std::get<0>(info.param) + (std::get<1>(info.param) ? "_fused" : "_unfused");
                         });

TEST(EngramGolden, FusedValidateModeMatchesFastMode) {
    Golden g = load_case("small_h96");
    ttl::ExecOptions saved = ttl::default_options();
    EngramStages fast = g.model->forward(g.input_ids, g.hidden);
    ttl::default_options().mode = ttl::Mode::Validate;
    EngramStages checked = g.model->forward(g.input_ids, g.hidden);
    ttl::default_options().seed = 7;
    EngramStages shuffled = g.model->forward(g.input_ids, g.hidden);
    ttl::default_options() = saved;
    for (int64_t i = 0; i < fast.output.numel(); ++i) {
        ASSERT_EQ(fast.output.data<float>()[i], checked.output.data<float>()[i]) << i;
        ASSERT_EQ(fast.output.data<float>()[i], shuffled.output.data<float>()[i]) << i;
    }
}

TEST(EngramGolden, Bf16FusedWithinTheSeedsBound) {
    Golden g = load_case("small_h64");
    ForwardOptions o;
    o.dtype = ttl::DType::BF16;
    EngramStages s = g.model->forward(g.input_ids, g.hidden, o);
    Tensor want = ttlm::io::load_npy(kGolden + "small_h64/output.npy");
    double max_err = 0;
    for (int64_t i = 0; i < want.numel(); ++i)
        max_err = std::max(max_err, double(std::abs(s.output.data<float>()[i] - want.data<float>()[i])));
    EXPECT_LE(max_err, 0.0548);  // the seed's bf16 max error on Wormhole
    EXPECT_GT(max_err, 0.0);     // it did run in bf16
}

}  // namespace

namespace {

// The fused forward against the unfused one, in fast and validate mode, with the conv split into
// `nodes` per sequence joined by boundary pipes.
void expect_fused_matches_unfused(int hidden_size, int64_t B, int64_t L, int nodes) {
    EngramConfig c;
    c.engram_vocab_size = {300, 400};
    c.n_embed_per_ngram = 32;
    c.n_head_per_ngram = 4;
    c.hidden_size = hidden_size;
    auto tok = golden_tokenizer();
    auto hashing = std::make_shared<const NgramHashMapping>(c, *tok);
    Engram model(c, 1, tok, hashing, EngramWeights::random(c, hashing->layer(1), 5, /*random_norms=*/true));
    Tensor ids({B, L}, ttl::DType::I64), hidden({B, L, 4, hidden_size});
    for (int64_t i = 0; i < ids.numel(); ++i) ids.data<int64_t>()[i] = (i * 7919) % 128000;
    for (int64_t i = 0; i < hidden.numel(); ++i) hidden.data<float>()[i] = std::sin(0.001f * static_cast<float>(i * 13 % 100003));
    ForwardOptions unfused;
    unfused.fused = false;
    EngramStages want = model.forward(ids, hidden, unfused);
    ttl::ExecOptions saved = ttl::default_options();
    for (auto mode : {ttl::Mode::Fast, ttl::Mode::Validate}) {
        ttl::default_options().mode = mode;
        ForwardOptions fused;
        fused.conv_nodes_per_sequence = nodes;
        EngramStages got = model.forward(ids, hidden, fused);
        double worst = 0, scale = 0;
        for (int64_t i = 0; i < want.output.numel(); ++i) {
            worst = std::max(worst, double(std::abs(got.output.data<float>()[i] - want.output.data<float>()[i])));
            scale = std::max(scale, double(std::abs(want.output.data<float>()[i])));
        }
        EXPECT_LE(worst, 1e-5 * scale) << (mode == ttl::Mode::Fast ? "fast" : "validate");
        for (int64_t i = 0; i < want.conv.numel(); ++i)
            ASSERT_NEAR(got.conv.data<float>()[i], want.conv.data<float>()[i], 1e-5 * scale) << i;
        ASSERT_EQ(got.gates.shape(), want.gates.shape());
        for (int64_t i = 0; i < want.gates.numel(); ++i)
            ASSERT_NEAR(got.gates.data<float>()[i], want.gates.data<float>()[i], 1e-5) << i;
        for (int64_t i = 0; i < want.gated.numel(); ++i)
            ASSERT_NEAR(got.gated.data<float>()[i], want.gated.data<float>()[i], 1e-5 * scale) << i;
    }
    ttl::default_options() = saved;
}

TEST(EngramLong, FusedMatchesUnfusedAcrossNodesAndPipes) {
    // 19 tile rows per sequence, split over 4 conv nodes joined by boundary pipes (single-tile
    // goldens do not reach that path).
    expect_fused_matches_unfused(64, 2, 600, 4);
}

TEST(EngramLong, FusedTakesWideHiddenSizes) {
    // 2,048 and 4,096 wide: the conv's buffers stay within L1 (its history once grew with the
    // hidden size, and these sizes did not fit); 5 tile rows over 2 nodes, then 2 tile rows over
    // 2 nodes of one tile row each.
    expect_fused_matches_unfused(2048, 1, 150, 2);
    expect_fused_matches_unfused(4096, 1, 40, 2);
}

}  // namespace
