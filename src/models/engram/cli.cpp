// `ttlm engram` (the demo of the seed, stage by stage) and `ttlm bench engram`.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <random>
#include <sstream>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include "io/npy.hpp"
#include "io/safetensors.hpp"
#include "io/tokenizer.hpp"
#include "models/engram/engram.hpp"
#include "runtime/thread_pool.hpp"
#include "tools/ttlm/verbs.hpp"

namespace ttlm::cli {
namespace {

using engram::Engram;
using engram::EngramConfig;
using engram::EngramStages;
using ttl::Tensor;

const char* kDemoText = "Only Alexander the Great could tame the horse Bucephalus.";

struct EngramArgs {
    CLI::App* cmd = nullptr;  // to tell which config flags were given
    std::vector<std::string> texts;
    std::string config, tokenizer, weights, hidden_states, dump, dtype = "f32";
    int layer_id = 1;
    std::vector<int> layer_ids{1, 15};
    uint64_t seed = 0;
    std::vector<int64_t> engram_vocab_size{129280 * 5, 129280 * 5};
    int max_ngram_size = 3, n_embed_per_ngram = 512, n_head_per_ngram = 8, hidden_size = 1024, hc_mult = 4,
        kernel_size = 4;
    int64_t pad_id = 2;
    bool unfused = false;
};

void add_config_options(CLI::App* cmd, EngramArgs& a) {
    a.cmd = cmd;
    cmd->add_option("--config", a.config, "config.json as the reference script writes it (EngramConfig's fields); "
                                          "config flags given as well override it");
    cmd->add_option("--tokenizer", a.tokenizer, "tokenizer.json or a folder with it (default: the DeepSeek-V3 files "
                                                "`make run` fetches into .cache/tokenizers/deepseek_v3)");
    cmd->add_option("--layer-id", a.layer_id, "the Engram layer to run (one of --layer-ids)");
    cmd->add_option("--layer-ids", a.layer_ids, "layers that have an Engram module (their primes are chained)")->delimiter(',');
    cmd->add_option("--seed", a.seed, "hashing seed (numpy default_rng), and the seed of random weights and hidden states");
    cmd->add_option("--engram-vocab-size", a.engram_vocab_size, "table size per n-gram order, e.g. 646400,646400")->delimiter(',');
    cmd->add_option("--max-ngram-size", a.max_ngram_size, "largest n-gram order (>= 2)");
    cmd->add_option("--n-embed-per-ngram", a.n_embed_per_ngram, "embedding width per n-gram order");
    cmd->add_option("--n-head-per-ngram", a.n_head_per_ngram, "hash heads per n-gram order");
    cmd->add_option("--hidden-size", a.hidden_size, "backbone hidden size");
    cmd->add_option("--hc-mult", a.hc_mult, "hyper-connection branches");
    cmd->add_option("--kernel-size", a.kernel_size, "ShortConv kernel size");
    cmd->add_option("--pad-id", a.pad_id, "pad token id (an original id)");
}

// The reference's defaults, or --config; then every config flag that was given.
EngramConfig make_config(const EngramArgs& a) {
    EngramConfig c = a.config.empty() ? EngramConfig{} : EngramConfig::from_json_file(a.config);
    auto given = [&](const char* flag) { return a.cmd->count(flag) > 0; };
    if (given("--engram-vocab-size")) c.engram_vocab_size = a.engram_vocab_size;
    if (given("--max-ngram-size")) c.max_ngram_size = a.max_ngram_size;
    if (given("--n-embed-per-ngram")) c.n_embed_per_ngram = a.n_embed_per_ngram;
    if (given("--n-head-per-ngram")) c.n_head_per_ngram = a.n_head_per_ngram;
    if (given("--layer-ids")) c.layer_ids = a.layer_ids;
    if (given("--pad-id")) c.pad_id = a.pad_id;
    if (given("--seed")) c.seed = a.seed;
    if (given("--kernel-size")) c.kernel_size = a.kernel_size;
    if (given("--hidden-size")) c.hidden_size = a.hidden_size;
    if (given("--hc-mult")) c.hc_mult = a.hc_mult;
    c.validate();
    return c;
}

std::string find_tokenizer(const std::string& given) {
    if (!given.empty()) return given;
    std::vector<std::filesystem::path> candidates{".cache/tokenizers/deepseek_v3"};
    std::error_code ec;
    auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) candidates.push_back(exe.parent_path() / "../../../.cache/tokenizers/deepseek_v3");
    for (const auto& c : candidates)
        if (std::filesystem::exists(c / "tokenizer.json")) return c.string();
    throw std::runtime_error("no tokenizer: pass --tokenizer PATH (tokenizer.json or its folder), or run `make tokenizer` "
                             "to fetch the DeepSeek-V3 files into .cache/tokenizers/deepseek_v3");
}

struct Model {
    io::Tokenizer tokenizer;
    std::shared_ptr<const engram::CompressedTokenizer> compressed;
    std::shared_ptr<const engram::NgramHashMapping> hashing;
    std::unique_ptr<Engram> engram;
    double tokenizer_ms = 0, compressed_ms = 0, weights_ms = 0;
};

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

Model build_model(const EngramArgs& a, const EngramConfig& c) {
    auto t0 = std::chrono::steady_clock::now();
    Model m{io::Tokenizer::from_file(find_tokenizer(a.tokenizer)), nullptr, nullptr, nullptr};
    m.tokenizer_ms = ms_since(t0);
    t0 = std::chrono::steady_clock::now();
    m.compressed = std::make_shared<const engram::CompressedTokenizer>(m.tokenizer);
    m.hashing = std::make_shared<const engram::NgramHashMapping>(c, *m.compressed);
    m.compressed_ms = ms_since(t0);
    t0 = std::chrono::steady_clock::now();
    const auto& layer = m.hashing->layer(a.layer_id);
    engram::EngramWeights w = a.weights.empty()
                                  ? engram::EngramWeights::random(c, layer, c.seed)
                                  : engram::EngramWeights::load(io::SafetensorsFile::open(a.weights), c, layer);
    m.engram = std::make_unique<Engram>(c, a.layer_id, m.compressed, m.hashing, std::move(w));
    m.weights_ms = ms_since(t0);
    return m;
}

Tensor random_hidden(int64_t B, int64_t L, int64_t hc, int64_t H, uint64_t seed) {
    Tensor h({B, L, hc, H});
    std::mt19937_64 rng(seed ^ 0x5eedull);
    std::normal_distribution<float> n(0.0f, 1.0f);
    for (float& v : h.span<float>()) v = n(rng);
    return h;
}

std::string first_values(const Tensor& t, int count = 4) {
    std::vector<std::string> v;
    const int64_t n = std::min<int64_t>(count, t.numel());
    for (int64_t i = 0; i < n; ++i)
        v.push_back(t.dtype() == ttl::DType::I64 ? fmt::format("{}", t.data<int64_t>()[i]) : fmt::format("{:.4f}", t.data<float>()[i]));
    return fmt::format("[{}]", fmt::join(v, ", "));
}

void print_stage(const char* name, const Tensor& t) {
    fmt::print("  {:<15} {:<22} first: {}\n", name, t.describe(), first_values(t));
}

struct BranchError {
    double max_err = 0, mean_err = 0;
};

// Per branch h of [B, L, hc, H] tensors.
std::vector<BranchError> branch_errors(const Tensor& a, const Tensor& b, int64_t hc, int64_t H) {
    std::vector<BranchError> e(static_cast<size_t>(hc));
    std::vector<int64_t> counts(static_cast<size_t>(hc), 0);
    const int64_t n = a.numel();
    for (int64_t i = 0; i < n; ++i) {
        const int64_t h = (i / H) % hc;
        double d = std::abs(double(a.data<float>()[i]) - b.data<float>()[i]);
        auto& x = e[static_cast<size_t>(h)];
        x.max_err = std::max(x.max_err, d);
        x.mean_err += d;
        counts[static_cast<size_t>(h)]++;
    }
    for (size_t h = 0; h < e.size(); ++h) e[h].mean_err /= std::max<int64_t>(1, counts[h]);
    return e;
}

Tensor tokenize(const io::Tokenizer& tok, const std::vector<std::string>& texts, int64_t pad_id) {
    std::vector<std::vector<int64_t>> ids;
    size_t longest = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
        try {
            ids.push_back(tok.encode(texts[i]));
        } catch (const std::invalid_argument& e) {
            throw std::invalid_argument(fmt::format("--text #{}: {}", i + 1, e.what()));
        }
        longest = std::max(longest, ids.back().size());
    }
    Tensor t({static_cast<int64_t>(texts.size()), static_cast<int64_t>(longest)}, ttl::DType::I64);
    for (size_t b = 0; b < ids.size(); ++b)
        for (size_t l = 0; l < longest; ++l) t.data<int64_t>()[b * longest + l] = l < ids[b].size() ? ids[b][l] : pad_id;
    return t;
}

void dump(const std::string& dir, const Tensor& input_ids, const EngramStages& s, const Model& m) {
    std::filesystem::create_directories(dir);
    auto p = [&](const char* f) { return (std::filesystem::path(dir) / f).string(); };
    io::save_npy(p("input_ids.npy"), input_ids);
    io::save_npy(p("compressed_ids.npy"), s.compressed_ids);
    io::save_npy(p("hash_ids.npy"), s.hash_ids);
    io::save_npy(p("embeddings.npy"), s.embeddings);
    io::save_npy(p("value.npy"), s.value);
    io::save_npy(p("gates.npy"), s.gates);
    io::save_npy(p("gated.npy"), s.gated);
    io::save_npy(p("conv.npy"), s.conv);
    io::save_npy(p("output.npy"), s.output);
    auto lut = m.compressed->lookup_table();
    Tensor table({static_cast<int64_t>(lut.size())}, ttl::DType::I64);
    std::copy(lut.begin(), lut.end(), table.data<int64_t>());
    io::save_npy(p("lookup_table.npy"), table);
    m.hashing->write_hash_config_json(p("hash_config.json"));
}

int run_demo(const EngramArgs& a) {
    const EngramConfig c = make_config(a);
    const ttl::DType dtype = a.dtype == "bf16" ? ttl::DType::BF16 : ttl::DType::F32;
    std::vector<std::string> texts = a.texts.empty() ? std::vector<std::string>{kDemoText} : a.texts;
    Model m = build_model(a, c);
    Tensor ids = tokenize(m.tokenizer, texts, c.pad_id);
    const int64_t B = ids.dim(0), L = ids.dim(1), hc = c.hc_mult, H = c.hidden_size;
    Tensor hidden;
    if (!a.hidden_states.empty()) {
        hidden = io::load_npy(a.hidden_states);
        const ttl::Shape want{B, L, hc, H};
        if (hidden.shape() != want || hidden.dtype() != ttl::DType::F32)
            throw std::invalid_argument(fmt::format("--hidden-states {}: {} does not match the text: expected f32{} "
                                                    "([batch, tokens incl. BOS, hc_mult, hidden_size])",
                                                    a.hidden_states, hidden.describe(), ttl::shape_str(want)));
    } else {
        hidden = random_hidden(B, L, hc, H, c.seed);
    }

    const bool fused_main = !a.unfused;
    const bool validating = ttl::default_options().mode == ttl::Mode::Validate;
    fmt::print("Engram layer {} | {} | {} threads{}\n", a.layer_id, fused_main ? fmt::format("fused ttl kernels, {}", a.dtype) : "unfused ops",
               ttlm::runtime::num_threads(), validating ? " | validate mode" : "");
    for (size_t i = 0; i < texts.size(); ++i) fmt::print("Text: '{}'\n", texts[i]);
    fmt::print("Tokens: {} (padded to {} in the fused path)\n", L, (L + 31) / 32 * 32);
    fmt::print("Compressed vocabulary: {} of {} ids | tables: {} rows x {}{}\n\n", m.compressed->size(),
               m.compressed->original_size(), m.engram->weights().embedding.rows(), m.engram->weights().embedding.dim(),
               a.weights.empty() ? " (seeded random)" : "");

    // One untimed pass per path first: it builds oneDNN primitives and pages in the weights.
    engram::ForwardOptions warm;
    warm.dtype = dtype;
    warm.fused = fused_main;
    m.engram->forward(ids, hidden, warm);
    warm.fused = !fused_main;
    warm.dtype = ttl::DType::F32;
    m.engram->forward(ids, hidden, warm);

    engram::StageTimes main_t, other_t;
    engram::ForwardOptions mo;
    mo.fused = fused_main;
    mo.dtype = dtype;
    mo.times = &main_t;
    EngramStages s = m.engram->forward(ids, hidden, mo);
    engram::ForwardOptions oo;
    oo.fused = !fused_main;
    oo.times = &other_t;
    EngramStages other = m.engram->forward(ids, hidden, oo);

    fmt::print("=== Stages ===\n");
    print_stage("input_ids", ids);
    print_stage("compressed_ids", s.compressed_ids);
    print_stage("hash_ids", s.hash_ids);
    print_stage("embeddings", s.embeddings);
    print_stage("value", s.value);
    print_stage("gates", s.gates);
    print_stage("gated", s.gated);
    print_stage("conv", s.conv);
    print_stage("output", s.output);

    const char* main_name = fused_main ? "fused" : "unfused";
    const char* other_name = fused_main ? "unfused" : "fused";
    const double bound = dtype == ttl::DType::BF16 ? 0.0548 : 1e-4;
    fmt::print("\n=== {} vs {} (output, per branch) ===\n", main_name, other_name);
    bool pass = true;
    double overall = 0, mean_sum = 0;
    auto errs = branch_errors(s.output, other.output, hc, H);
    for (size_t h = 0; h < errs.size(); ++h) {
        fmt::print("  HC {}: max_err={:.3g} mean_err={:.3g}\n", h, errs[h].max_err, errs[h].mean_err);
        overall = std::max(overall, errs[h].max_err);
        mean_sum += errs[h].mean_err;
        pass = pass && errs[h].max_err <= bound;
    }
    bool ids_equal = std::equal(s.hash_ids.data<int64_t>(), s.hash_ids.data<int64_t>() + s.hash_ids.numel(),
                                other.hash_ids.data<int64_t>());
    pass = pass && ids_equal;
    fmt::print("  hash ids {}\n", ids_equal ? "identical" : "DIFFER");

    auto times = [](const char* name, const engram::StageTimes& t) {
        fmt::print("  {:<8} hash+embed {:7.2f} ms | projections {:7.2f} ms | gating {:7.2f} ms | conv {:7.2f} ms | total {:7.2f} ms\n",
                   name, t.hash_embed_ms, t.gemm_ms, t.gating_ms, t.conv_ms, t.total_ms);
    };
    fmt::print("\n=== Time ===\n  set-up   tokenizer {:.0f} ms | compressed tokenizer + hashing {:.0f} ms | weights {:.0f} ms\n",
               m.tokenizer_ms, m.compressed_ms, m.weights_ms);
    times(main_name, main_t);
    times(other_name, other_t);

    if (!a.dump.empty()) {
        dump(a.dump, ids, s, m);
        fmt::print("\nwrote every stage to {}\n", a.dump);
    }
    fmt::print("\n{} (max_err={:.3g}, mean_err={:.3g}, bound {:.3g})\n", pass ? "PASS" : "FAIL", overall,
               mean_sum / std::max<size_t>(1, errs.size()), bound);
    return pass ? 0 : 1;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

template <class F>
double median_ms(int reps, F&& fn) {
    std::vector<double> t;
    for (int i = 0; i < reps; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        fn();
        t.push_back(ms_since(t0));
    }
    return median(std::move(t));
}

// A memcpy of `bytes` on every worker, the bandwidth baseline: (read + write) GB/s per call.
class MemcpyBaseline {
   public:
    explicit MemcpyBaseline(size_t bytes) : src_(bytes, 1), dst_(bytes, 0) { copy(); }
    double gbps() {
        auto t0 = std::chrono::steady_clock::now();
        copy();
        return 2.0 * static_cast<double>(src_.size()) / ms_since(t0) / 1e6;
    }

   private:
    void copy() {
        ttlm::runtime::parallel_for(static_cast<int64_t>(src_.size()), [&](int64_t b, int64_t e) {
            std::memcpy(dst_.data() + b, src_.data() + b, static_cast<size_t>(e - b));
        }, 1 << 20);
    }
    std::vector<char> src_, dst_;
};

int run_bench(const EngramArgs& a, int64_t tokens, int reps, bool json) {
    const EngramConfig c = make_config(a);
    Model m = build_model(a, c);
    Tensor ids({1, tokens}, ttl::DType::I64);
    std::mt19937_64 rng(c.seed + 1);
    for (auto& v : ids.span<int64_t>()) v = static_cast<int64_t>(rng() % static_cast<uint64_t>(m.tokenizer.size()));
    Tensor hidden = random_hidden(1, tokens, c.hc_mult, c.hidden_size, c.seed);
    engram::ForwardOptions fused, unfused;
    unfused.fused = false;
    fused.keep_stages = unfused.keep_stages = false;
    // The bytes each kernel must touch (fp32, padded tokens): gating reads the stacked projection
    // and the hidden states and writes gated; conv reads gated and writes the output.
    const double n = static_cast<double>((tokens + 31) / 32 * 32), hc = c.hc_mult, h = c.hidden_size;
    const double gating_bytes = n * ((hc + 1) * h + hc * h + hc * h) * 4, conv_bytes = n * (2 * hc * h) * 4;
    MemcpyBaseline baseline(static_cast<size_t>(std::max(gating_bytes / 2, 64e6)));
    m.engram->forward(ids, hidden, fused);  // warm up: page in weights, build primitives
    m.engram->forward(ids, hidden, unfused);
    // The memcpy is timed next to each fused forward: this host's memory bandwidth drifts (by
    // half over minutes, other tenants), and the kernels' share of it is only meaningful when
    // both see the same.
    std::vector<double> fused_ms, memcpy_gbps;
    std::vector<engram::StageTimes> st;
    for (int i = 0; i < reps; ++i) {
        memcpy_gbps.push_back(baseline.gbps());
        engram::StageTimes t;
        fused.times = &t;
        auto t0 = std::chrono::steady_clock::now();
        m.engram->forward(ids, hidden, fused);
        fused_ms.push_back(ms_since(t0));
        st.push_back(t);
    }
    double unfused_ms = median_ms(reps, [&] { m.engram->forward(ids, hidden, unfused); });
    auto med = [&](double engram::StageTimes::*f) {
        std::vector<double> v;
        for (auto& t : st) v.push_back(t.*f);
        return median(std::move(v));
    };
    const double gating_gbps = gating_bytes / med(&engram::StageTimes::gating_ms) / 1e6;
    const double conv_gbps = conv_bytes / med(&engram::StageTimes::conv_ms) / 1e6;
    if (json) {
        fmt::print("{{\"tokens\": {}, \"threads\": {}, \"unfused_ms\": {:.3f}, \"fused_ms\": {:.3f}, \"gemm_ms\": {:.3f}, "
                   "\"gating_ms\": {:.3f}, \"conv_ms\": {:.3f}, \"hash_embed_ms\": {:.3f}, \"gating_gbps\": {:.2f}, "
                   "\"conv_gbps\": {:.2f}, \"memcpy_gbps\": {:.2f}}}\n",
                   tokens, ttlm::runtime::num_threads(), unfused_ms, median(fused_ms), med(&engram::StageTimes::gemm_ms),
                   med(&engram::StageTimes::gating_ms), med(&engram::StageTimes::conv_ms),
                   med(&engram::StageTimes::hash_embed_ms), gating_gbps, conv_gbps, median(memcpy_gbps));
    } else {
        fmt::print("Engram layer {}, {} tokens, {} threads (median of {})\n", a.layer_id, tokens, ttlm::runtime::num_threads(), reps);
        fmt::print("  unfused (ops)         {:9.3f} ms\n", unfused_ms);
        fmt::print("  fused (ttl kernels)   {:9.3f} ms\n", median(fused_ms));
        fmt::print("    hash + embed        {:9.3f} ms\n", med(&engram::StageTimes::hash_embed_ms));
        fmt::print("    stacked GEMM        {:9.3f} ms\n", med(&engram::StageTimes::gemm_ms));
        fmt::print("    gating kernel       {:9.3f} ms\n", med(&engram::StageTimes::gating_ms));
        fmt::print("    conv kernel         {:9.3f} ms\n", med(&engram::StageTimes::conv_ms));
        fmt::print("  bandwidth: gating {:.2f} GB/s, conv {:.2f} GB/s, memcpy {:.2f} GB/s (bytes each must touch)\n",
                   gating_gbps, conv_gbps, median(memcpy_gbps));
    }
    return 0;
}

}  // namespace

void add_engram_verbs(CLI::App& app, CLI::App& bench) {
    static EngramArgs demo;
    CLI::App* cmd = app.add_subcommand("engram", "run the Engram demo: tokenizer to output, fused ttl kernels checked "
                                                 "against the unfused op path stage by stage");
    cmd->add_option("--text", demo.texts, "input text (repeat for a batch; default: the seed's demo sentence)");
    add_config_options(cmd, demo);
    cmd->add_option("--weights", demo.weights, "safetensors with the reference's state_dict names "
                                               "(key_projs.0.weight, short_conv.conv.weight, ...); default: seeded random");
    cmd->add_option("--hidden-states", demo.hidden_states, ".npy of float32 [B, L, hc_mult, hidden_size]; default: random");
    cmd->add_flag("--unfused", demo.unfused, "print and dump the unfused (op-by-op) path; the fused one is the comparison");
    cmd->add_option("--dtype", demo.dtype, "fused path precision")->check(CLI::IsMember({"f32", "bf16"}));
    cmd->add_option("--dump", demo.dump, "write every stage as .npy (and lookup_table.npy, hash_config.json) into DIR");
    on_run(cmd, [] { return run_demo(demo); });

    static EngramArgs b;
    static int64_t tokens = 4096;
    static int reps = 5;
    static bool json = false;
    CLI::App* bcmd = bench.add_subcommand("engram", "time the Engram layer: unfused vs fused, and each fused stage");
    add_config_options(bcmd, b);
    bcmd->add_option("--tokens", tokens, "sequence length")->check(CLI::PositiveNumber);
    bcmd->add_option("--reps", reps, "repetitions (the median is reported)")->check(CLI::PositiveNumber);
    bcmd->add_flag("--json", json, "print one JSON object");
    on_run(bcmd, [] { return run_bench(b, tokens, reps, json); });
}

}  // namespace ttlm::cli
