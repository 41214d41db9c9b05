#include "models/md/generate.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

#include <fmt/core.h>

#include "models/md/random.hpp"

namespace ttlm::md {
namespace {

double cubic_box_length(int64_t atoms, double density) { return std::cbrt(static_cast<double>(atoms) / density); }

// Maxwell-Boltzmann velocities with zero total momentum, scaled to exactly `temperature`.
void set_velocities(System& system, double temperature, Rng& rng) {
    int64_t n = system.size();
    Vec3 momentum;
    double total_mass = 0;
    for (int64_t i = 0; i < n; ++i) {
        double s = std::sqrt(temperature / system.mass(i));
        system.velocities[i] = {s * rng.normal(), s * rng.normal(), s * rng.normal()};
        momentum += system.velocities[i] * system.mass(i);
        total_mass += system.mass(i);
    }
    if (n < 2 || temperature <= 0) {
        for (auto& v : system.velocities) v = {};
        return;
    }
    Vec3 drift = momentum * (1.0 / total_mass);
    for (auto& v : system.velocities) v -= drift;
    double current = 2 * system.kinetic_energy() / static_cast<double>(3 * n - 3);
    double scale = std::sqrt(temperature / current);
    for (auto& v : system.velocities) v = v * scale;
}

void check_common(int64_t atoms, double density, double temperature) {
    if (atoms < 1) throw std::invalid_argument(fmt::format("md generate: atoms must be >= 1 (got {})", atoms));
    if (!(density > 0 && std::isfinite(density)))
        throw std::invalid_argument(fmt::format("md generate: density must be > 0 (got {})", density));
    if (!(temperature >= 0 && std::isfinite(temperature)))
        throw std::invalid_argument(fmt::format("md generate: temperature must be >= 0 (got {})", temperature));
}

void add_atom(System& system, int32_t type, int64_t molecule, double charge, const Vec3& position) {
    system.ids.push_back(system.size() + 1);
    system.molecules.push_back(molecule);
    system.types.push_back(type);
    system.charges.push_back(charge);
    system.positions.push_back(system.box.wrap(position));
    system.velocities.push_back({});
}

}  // namespace

MicelleOptions micelle_options_for_atoms(int64_t atoms) {
    MicelleOptions defaults, options;
    int64_t beads_per_lipid = 1 + defaults.tail_length;
    int64_t default_total = defaults.lipids * beads_per_lipid + defaults.water;
    options.lipids = std::llround(static_cast<double>(atoms) * static_cast<double>(defaults.lipids) /
                                  static_cast<double>(default_total));
    options.water = atoms - options.lipids * beads_per_lipid;
    if (options.water < 0) options.lipids = 0, options.water = atoms;
    return options;
}

System make_random_system(const RandomSystemOptions& o) {
    check_common(o.atoms, o.density, o.temperature);
    if (!(o.charge_sigma >= 0 && std::isfinite(o.charge_sigma)))
        throw std::invalid_argument(fmt::format("md generate: charge sigma must be >= 0 (got {})", o.charge_sigma));
    Rng rng(o.seed);
    System system;
    double L = cubic_box_length(o.atoms, o.density);
    system.box = {{0, 0, 0}, {L, L, L}};
    system.atom_types = {{"ATOM", 1.0, 1.0, 1.0}};

    int64_t n = 1;
    while (n * n * n < o.atoms) ++n;
    double a = L / static_cast<double>(n);
    // A random subset of the lattice sites, so that missing sites are spread through the box.
    std::vector<int64_t> sites(n * n * n);
    for (int64_t s = 0; s < n * n * n; ++s) sites[s] = s;
    for (int64_t k = 0; k < o.atoms; ++k) std::swap(sites[k], sites[k + rng.below(n * n * n - k)]);

    std::vector<double> charges(o.atoms);
    double mean = 0;
    for (auto& q : charges) mean += (q = o.charge_sigma * rng.normal());
    mean /= static_cast<double>(o.atoms);
    for (int64_t k = 0; k < o.atoms; ++k) {
        int64_t s = sites[k];
        Vec3 p{(static_cast<double>(s / (n * n)) + 0.5 + rng.uniform(-0.1, 0.1)) * a,
               (static_cast<double>(s / n % n) + 0.5 + rng.uniform(-0.1, 0.1)) * a,
               (static_cast<double>(s % n) + 0.5 + rng.uniform(-0.1, 0.1)) * a};
        add_atom(system, 0, 0, charges[k] - mean, p);
    }
    set_velocities(system, o.temperature, rng);
    system.validate();
    return system;
}

System make_micelle_system(const MicelleOptions& o) {
    if (o.lipids < 0 || o.water < 0 || o.ion_pairs < 0 || o.tail_length < 0)
        throw std::invalid_argument("md generate: lipid, tail, water and ion counts must be >= 0");
    int64_t total = o.lipids * (1 + o.tail_length) + o.water + 2 * o.ion_pairs;
    check_common(total, o.density, o.temperature);
    Rng rng(o.seed);
    System system;
    double L = cubic_box_length(total, o.density);
    system.box = {{0, 0, 0}, {L, L, L}};
    enum : int32_t { kHead, kTail, kWater, kCation, kAnion };
    system.atom_types = {{"HEAD", 1, 0.8 * 0.8, 1}, {"TAIL", 1, 2.0 * 2.0, 1}, {"WATER", 1, 0.3 * 0.3, 1}};
    if (o.ion_pairs > 0) {
        system.atom_types.push_back({"NA", 1, 0.5 * 0.5, 1});
        system.atom_types.push_back({"CL", 1, 0.5 * 0.5, 1});
    }
    system.bond_types = {{50.0, 1.0}};

    // Beads sit on a cubic lattice of spacing a >= 1 (= sigma), so no two start closer than sigma and a
    // bond starts at length a ~ r0. Tails are self-avoiding random walks on that lattice.
    int64_t n = std::max<int64_t>(1, static_cast<int64_t>(std::floor(L)));
    int64_t sites = n * n * n;
    if (total > sites * 6 / 10)
        throw std::invalid_argument(fmt::format(
            "md generate: micelle density {} is too high to place {} beads without overlaps (at most ~0.6)",
            o.density, total));
    double a = L / static_cast<double>(n);
    std::vector<char> taken(sites, 0);
    auto site_of = [n](int64_t i, int64_t j, int64_t k) { return ((i + n) % n * n + (j + n) % n) * n + (k + n) % n; };
    auto place = [&](int64_t site) {
        Vec3 p{(static_cast<double>(site / (n * n)) + 0.5 + rng.uniform(-0.05, 0.05)) * a,
               (static_cast<double>(site / n % n) + 0.5 + rng.uniform(-0.05, 0.05)) * a,
               (static_cast<double>(site % n) + 0.5 + rng.uniform(-0.05, 0.05)) * a};
        return p;
    };

    for (int64_t lipid = 0; lipid < o.lipids; ++lipid) {
        std::vector<int64_t> chain;
        for (int attempt = 0; chain.size() != static_cast<size_t>(1 + o.tail_length); ++attempt) {
            if (attempt == 10000)
                throw std::runtime_error("md generate: could not place a lipid chain; lower the density");
            chain.clear();
            int64_t head = rng.below(sites);
            if (taken[head]) continue;
            chain.push_back(head);
            taken[head] = 1;
            while (chain.size() < static_cast<size_t>(1 + o.tail_length)) {
                int64_t s = chain.back(), i = s / (n * n), j = s / n % n, k = s % n;
                int64_t free_sites[6], count = 0;
                for (int64_t next : {site_of(i + 1, j, k), site_of(i - 1, j, k), site_of(i, j + 1, k),
                                     site_of(i, j - 1, k), site_of(i, j, k + 1), site_of(i, j, k - 1)})
                    if (!taken[next]) free_sites[count++] = next;
                if (count == 0) break;
                int64_t next = free_sites[rng.below(count)];
                taken[next] = 1;
                chain.push_back(next);
            }
            if (chain.size() != static_cast<size_t>(1 + o.tail_length)) {
                for (int64_t s : chain) taken[s] = 0;
                chain.clear();
            }
        }
        double head_charge = lipid % 2 == 0 ? 0.5 : -0.5;
        int32_t first = static_cast<int32_t>(system.size());
        for (size_t b = 0; b < chain.size(); ++b)
            add_atom(system, b == 0 ? kHead : kTail, lipid + 1, b == 0 ? head_charge : 0.0, place(chain[b]));
        for (int32_t b = 1; b <= o.tail_length; ++b) system.bonds.push_back({0, first + b - 1, first + b});
    }

    std::vector<int64_t> free_sites;
    for (int64_t s = 0; s < sites; ++s)
        if (!taken[s]) free_sites.push_back(s);
    int64_t loose = o.water + 2 * o.ion_pairs;
    for (int64_t k = 0; k < loose; ++k)
        std::swap(free_sites[k], free_sites[k + rng.below(static_cast<int64_t>(free_sites.size()) - k)]);
    for (int64_t k = 0; k < o.water; ++k) add_atom(system, kWater, 0, 0.0, place(free_sites[k]));
    for (int64_t k = 0; k < 2 * o.ion_pairs; ++k)
        add_atom(system, k % 2 == 0 ? kCation : kAnion, 0, k % 2 == 0 ? 1.0 : -1.0, place(free_sites[o.water + k]));

    set_velocities(system, o.temperature, rng);
    system.validate();
    return system;
}

}  // namespace ttlm::md
