#include "models/engram/config.hpp"

#include <fstream>
#include <set>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace ttlm::engram {

void EngramConfig::validate() const {
    auto positive = [](const char* field, int64_t v) {
        if (v <= 0) throw std::invalid_argument(fmt::format("engram config: {} must be positive, got {}", field, v));
    };
    positive("max_ngram_size", max_ngram_size);
    if (max_ngram_size < 2)
        throw std::invalid_argument(fmt::format("engram config: max_ngram_size must be at least 2, got {}", max_ngram_size));
    positive("n_embed_per_ngram", n_embed_per_ngram);
    positive("n_head_per_ngram", n_head_per_ngram);
    if (n_embed_per_ngram % n_head_per_ngram != 0)
        throw std::invalid_argument(fmt::format("engram config: n_embed_per_ngram ({}) must be a multiple of n_head_per_ngram ({})",
                                                n_embed_per_ngram, n_head_per_ngram));
    if (static_cast<int>(engram_vocab_size.size()) != max_ngram_size - 1)
        throw std::invalid_argument(fmt::format("engram config: engram_vocab_size has {} entries, expected max_ngram_size - 1 = {}",
                                                engram_vocab_size.size(), max_ngram_size - 1));
    for (int64_t v : engram_vocab_size) positive("engram_vocab_size", v);
    if (layer_ids.empty()) throw std::invalid_argument("engram config: layer_ids is empty");
    for (int id : layer_ids)
        if (id < 0) throw std::invalid_argument(fmt::format("engram config: layer id {} is negative", id));
    if (pad_id < 0) throw std::invalid_argument(fmt::format("engram config: pad_id must be >= 0, got {}", pad_id));
    positive("kernel_size", kernel_size);
    positive("hidden_size", hidden_size);
    positive("hc_mult", hc_mult);
}

EngramConfig EngramConfig::from_json_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::invalid_argument(fmt::format("{}: cannot open the Engram config", path));
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        throw std::invalid_argument(fmt::format("{}: not valid JSON: {}", path, e.what()));
    }
    if (!j.is_object()) throw std::invalid_argument(fmt::format("{}: expected a JSON object of config fields", path));
    static const std::set<std::string> known{"engram_vocab_size", "max_ngram_size", "n_embed_per_ngram",
                                             "n_head_per_ngram",  "layer_ids",      "pad_id",
                                             "seed",              "kernel_size",    "hidden_size",
                                             "hc_mult"};
    for (const auto& [key, value] : j.items())
        if (!known.count(key)) throw std::invalid_argument(fmt::format("{}: unknown config field '{}'", path, key));
    EngramConfig c;
    auto field = [&](const char* name, auto& out) {
        if (!j.contains(name)) return;
        try {
            j.at(name).get_to(out);
        } catch (const nlohmann::json::exception&) {
            throw std::invalid_argument(fmt::format("{}: config field '{}' has the wrong type ({})", path, name, j.at(name).dump()));
        }
    };
    field("engram_vocab_size", c.engram_vocab_size);
    field("max_ngram_size", c.max_ngram_size);
    field("n_embed_per_ngram", c.n_embed_per_ngram);
    field("n_head_per_ngram", c.n_head_per_ngram);
    field("layer_ids", c.layer_ids);
    field("pad_id", c.pad_id);
    field("seed", c.seed);
    field("kernel_size", c.kernel_size);
    field("hidden_size", c.hidden_size);
    field("hc_mult", c.hc_mult);
    try {
        c.validate();
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(fmt::format("{}: {}", path, e.what()));
    }
    return c;
}

}  // namespace ttlm::engram
