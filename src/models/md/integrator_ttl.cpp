#include "models/md/integrator_ttl.hpp"

#include <cmath>
#include <optional>
#include <stdexcept>

#include <fmt/core.h>

#include "models/md/random.hpp"
#include "runtime/thread_pool.hpp"
#include "ttl/ttl.hpp"

namespace ttlm::md {
namespace {

constexpr int64_t kAtomsPerTile = ttl::kTileElems;

// Fills each atom's fp32 value, in parallel over atoms.
template <typename F>
void fill_atoms(ttl::Tensor& tensor, int64_t atoms, F&& value) {
    float* out = tensor.data<float>();
    runtime::parallel_for(
        atoms,
        [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) out[i] = static_cast<float>(value(i));
        },
        4096);
}

// 1 where x >= edge, else 0 (sign is 0 at the edge itself).
ttl::BlockExpr at_or_above(const ttl::BlockExpr& x, float edge) {
    return ttl::math::clamp(ttl::math::sign(x - edge) + 1.0f, 0.0f, 1.0f);
}

// x in (-L, 2L) into [0, L). x - L is exact for x in [L, 2L) (Sterbenz); x + L for x slightly below 0
// can round up to L, which the second pass maps to 0, the image at the lower edge.
ttl::BlockExpr wrap(const ttl::BlockExpr& x, float length) {
    auto below = ttl::math::clamp(-ttl::math::sign(x), 0.0f, 1.0f);
    auto shifted = x + (below - at_or_above(x, length)) * length;
    return shifted - at_or_above(shifted, length) * length;
}

}  // namespace

IntegratorTtl::IntegratorTtl(const System& system, const IntegratorOptions& options)
    : options_(options), box_(system.box), ids_(system.ids), atoms_(system.size()) {
    for (int64_t i = 0; i < atoms_; ++i)
        for (int d = 0; d < 3; ++d)
            if (const double x = system.positions[i][d] - box_.lo[d]; !(x >= 0 && x < box_.length[d]))
                throw std::invalid_argument(fmt::format(
                    "ttl integrator: atom {} is outside the box along axis {} ({} from its lower edge, length {}); "
                    "wrap the positions first",
                    ids_[i], d, x, box_.length[d]));
    tiles_ = std::max<int64_t>(1, (atoms_ + kAtomsPerTile - 1) / kAtomsPerTile);
    const ttl::Shape shape{tiles_ * ttl::kTileDim, ttl::kTileDim};
    for (int d = 0; d < 3; ++d) {
        for (ttl::Tensor* t : {&positions_[d], &velocities_[d], &forces_[d], &noise_[d]}) *t = ttl::Tensor(shape);
        positions_[d].set_name(fmt::format("positions[{}]", d));
        velocities_[d].set_name(fmt::format("velocities[{}]", d));
        const float length = static_cast<float>(box_.length[d]);
        // fp32 offsets from the lower corner; one that rounds up to the (fp32) box length is the image at 0.
        fill_atoms(positions_[d], atoms_, [&](int64_t i) {
            const float x = static_cast<float>(system.positions[i][d] - box_.lo[d]);
            return x < length ? x : 0.0f;
        });
        fill_atoms(velocities_[d], atoms_, [&](int64_t i) { return system.velocities[i][d]; });
    }
    half_dt_over_mass_ = ttl::Tensor(shape);
    fill_atoms(half_dt_over_mass_, atoms_, [&](int64_t i) { return 0.5 * options.dt / system.mass(i); });
    noise_scale_ = ttl::Tensor(shape);
    if (options.thermostat == Thermostat::langevin) {
        const double c = std::exp(-options.dt / options.damping);
        fill_atoms(noise_scale_, atoms_,
                   [&](int64_t i) { return std::sqrt((1 - c * c) * options.temperature / system.mass(i)); });
    }
}

void IntegratorTtl::load_forces(std::span<const Vec3> forces) {
    if (static_cast<int64_t>(forces.size()) != atoms_)
        throw std::invalid_argument(fmt::format("ttl integrator: {} forces for {} atoms", forces.size(), atoms_));
    for (int d = 0; d < 3; ++d) fill_atoms(forces_[d], atoms_, [&](int64_t i) { return forces[i][d]; });
}

void IntegratorTtl::advance(std::span<const Vec3> forces, uint64_t step, const ttl::ExecOptions& options) {
    load_forces(forces);
    if (options_.thermostat == Thermostat::langevin)
        for (int d = 0; d < 3; ++d)
            fill_atoms(noise_[d], atoms_, [&](int64_t i) {
                return counter_normal(options_.seed, step, static_cast<uint64_t>(ids_[i]), static_cast<uint64_t>(d));
            });
    run(Stage::advance, options);
}

void IntegratorTtl::kick(std::span<const Vec3> forces, const ttl::ExecOptions& options) {
    load_forces(forces);
    run(Stage::kick, options);
}

void IntegratorTtl::run(Stage stage, const ttl::ExecOptions& options) {
    const bool advance = stage == Stage::advance;
    const bool langevin = advance && options_.thermostat == Thermostat::langevin;
    const float dt = static_cast<float>(options_.dt), half_dt = static_cast<float>(0.5 * options_.dt);
    const float friction = static_cast<float>(std::exp(-options_.dt / options_.damping));
    const float length[3] = {static_cast<float>(box_.length.x), static_cast<float>(box_.length.y),
                             static_cast<float>(box_.length.z)};
    const int64_t tiles = tiles_;

    ttl::Operation op(advance ? (langevin ? "md_integrate_baoa" : "md_integrate_ba") : "md_integrate_kick",
                      ttl::Grid::Auto);
    const ttl::TileShape tile{1, 1};
    // Per-atom constants stay in L1 for the three axes of a tile; the rest streams axis by axis.
    auto h_dfb = ttl::make_dataflow_buffer_like(op, half_dt_over_mass_, tile, 2, "half_dt_over_mass");
    auto s_dfb = ttl::make_dataflow_buffer_like(op, noise_scale_, tile, 2, "noise_scale");
    auto x_dfb = ttl::make_dataflow_buffer_like(op, positions_[0], tile, 2, "x");
    auto v_dfb = ttl::make_dataflow_buffer_like(op, velocities_[0], tile, 2, "v");
    auto f_dfb = ttl::make_dataflow_buffer_like(op, forces_[0], tile, 2, "f");
    auto noise_dfb = ttl::make_dataflow_buffer_like(op, noise_[0], tile, 2, "noise");
    auto x_out_dfb = ttl::make_dataflow_buffer_like(op, positions_[0], tile, 2, "x_out");
    auto v_out_dfb = ttl::make_dataflow_buffer_like(op, velocities_[0], tile, 2, "v_out");

    op.compute([&] {
        auto [begin, end] = ttl::node_work(tiles);
        for (int64_t t = begin; t < end; ++t) {
            auto h = h_dfb.wait();
            std::optional<ttl::Block> s;
            if (langevin) s.emplace(s_dfb.wait());
            for (int d = 0; d < 3; ++d) {
                auto v = v_dfb.wait();
                auto f = f_dfb.wait();
                auto v_out = v_out_dfb.reserve();
                auto kicked = v + f * h;  // B
                if (!advance) {
                    v_out.store(kicked);
                    continue;
                }
                auto x = x_dfb.wait();
                auto x_out = x_out_dfb.reserve();
                if (!langevin) {
                    x_out.store(wrap(x + kicked * dt, length[d]));  // A
                    v_out.store(kicked);
                    continue;
                }
                auto noise = noise_dfb.wait();
                auto half_drifted = wrap(x + kicked * half_dt, length[d]);           // A
                auto thermalised = kicked * friction + *s * noise;                   // O
                x_out.store(wrap(half_drifted + thermalised * half_dt, length[d]));  // A
                v_out.store(thermalised);
            }
        }
    });
    op.datamovement([&] {  // reader
        auto [begin, end] = ttl::node_work(tiles);
        for (int64_t t = begin; t < end; ++t) {
            {
                auto blk = h_dfb.reserve();
                ttl::copy(half_dt_over_mass_(t, 0), blk).wait();
            }
            if (langevin) {
                auto blk = s_dfb.reserve();
                ttl::copy(noise_scale_(t, 0), blk).wait();
            }
            for (int d = 0; d < 3; ++d) {
                for (auto [dfb, src] : {std::pair{&v_dfb, &velocities_[d]}, std::pair{&f_dfb, &forces_[d]}}) {
                    auto blk = dfb->reserve();
                    ttl::copy((*src)(t, 0), blk).wait();
                }
                if (!advance) continue;
                {
                    auto blk = x_dfb.reserve();
                    ttl::copy(positions_[d](t, 0), blk).wait();
                }
                if (!langevin) continue;
                auto blk = noise_dfb.reserve();
                ttl::copy(noise_[d](t, 0), blk).wait();
            }
        }
    });
    op.datamovement([&] {  // writer: in place, each tile by the node that read it
        auto [begin, end] = ttl::node_work(tiles);
        for (int64_t t = begin; t < end; ++t)
            for (int d = 0; d < 3; ++d) {
                if (advance) {
                    auto blk = x_out_dfb.wait();
                    ttl::copy(blk, positions_[d](t, 0)).wait();
                }
                auto blk = v_out_dfb.wait();
                ttl::copy(blk, velocities_[d](t, 0)).wait();
            }
    });
    op.run(options);
}

void IntegratorTtl::store_positions(System& system) const {
    for (int d = 0; d < 3; ++d) {
        const float* x = positions_[d].data<float>();
        const float length = static_cast<float>(box_.length[d]);
        for (int64_t i = 0; i < atoms_; ++i)
            if (!(x[i] >= 0 && x[i] < length))
                throw std::runtime_error(fmt::format(
                    "ttl integrator: atom {} is at {} along axis {}, outside the box [0, {}): it moved more than a "
                    "box length in one step or is not finite; the system blew up (time step too large?)",
                    ids_[i], x[i], d, length));
    }
    runtime::parallel_for(
        atoms_,
        [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) {
                Vec3 p;
                for (int d = 0; d < 3; ++d) p[d] = box_.lo[d] + positions_[d].data<float>()[i];
                // The fp32 box length can exceed the double one by half an ulp: wrap maps that sliver to lo.
                system.positions[i] = box_.wrap(p);
            }
        },
        4096);
}

void IntegratorTtl::store_velocities(System& system) const {
    runtime::parallel_for(
        atoms_,
        [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i)
                for (int d = 0; d < 3; ++d) system.velocities[i][d] = velocities_[d].data<float>()[i];
        },
        4096);
}

}  // namespace ttlm::md
