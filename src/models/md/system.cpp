#include "models/md/system.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <unordered_set>

#include <fmt/core.h>

namespace ttlm::md {

double Box::min_length() const { return std::min({length.x, length.y, length.z}); }

Vec3 Box::wrap(const Vec3& p) const {
    Vec3 out;
    for (int d = 0; d < 3; ++d) {
        double L = length[d];
        double r = (p[d] - lo[d]) - L * std::floor((p[d] - lo[d]) / L);
        // Rounding can land exactly on L (or a hair below 0); both are the image at lo.
        if (r < 0) r += L;
        double wrapped = lo[d] + r;
        out[d] = (r >= L || wrapped >= lo[d] + L) ? lo[d] : wrapped;
    }
    return out;
}

Vec3 Box::minimum_image(const Vec3& d) const {
    return {d.x - length.x * std::nearbyint(d.x / length.x), d.y - length.y * std::nearbyint(d.y / length.y),
            d.z - length.z * std::nearbyint(d.z / length.z)};
}

double System::kinetic_energy() const {
    double ke = 0;
    for (int64_t i = 0; i < size(); ++i) ke += 0.5 * mass(i) * velocities[i].norm2();
    return ke;
}

namespace {
bool finite(const Vec3& v) { return std::isfinite(v.x) && std::isfinite(v.y) && std::isfinite(v.z); }
}  // namespace

void System::validate() const {
    auto fail = [](const std::string& what) { throw std::invalid_argument("md system: " + what); };
    for (int d = 0; d < 3; ++d)
        if (!std::isfinite(box.lo[d]) || !std::isfinite(box.length[d]) || box.length[d] <= 0)
            fail(fmt::format("box edge {} must be finite and positive (lo {}, length {})", "xyz"[d], box.lo[d],
                             box.length[d]));
    if (atom_types.empty() && size() > 0) fail("no atom types");
    for (size_t t = 0; t < atom_types.size(); ++t) {
        const AtomType& at = atom_types[t];
        if (!(std::isfinite(at.mass) && at.mass > 0))
            fail(fmt::format("atom type {} has mass {} (expected finite and > 0)", t + 1, at.mass));
        if (!(std::isfinite(at.epsilon) && at.epsilon >= 0))
            fail(fmt::format("atom type {} has LJ epsilon {} (expected finite and >= 0)", t + 1, at.epsilon));
        if (!(std::isfinite(at.sigma) && at.sigma > 0))
            fail(fmt::format("atom type {} has LJ sigma {} (expected finite and > 0)", t + 1, at.sigma));
    }
    for (size_t t = 0; t < bond_types.size(); ++t)
        if (!(std::isfinite(bond_types[t].k_lammps) && bond_types[t].k_lammps >= 0 &&
              std::isfinite(bond_types[t].r0) && bond_types[t].r0 >= 0))
            fail(fmt::format("bond type {} has K {} r0 {} (expected finite and >= 0)", t + 1,
                             bond_types[t].k_lammps, bond_types[t].r0));
    size_t n = ids.size();
    if (molecules.size() != n || types.size() != n || charges.size() != n || positions.size() != n ||
        velocities.size() != n)
        fail("per-atom arrays have different lengths");
    std::unordered_set<int64_t> seen;
    seen.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        if (ids[i] < 1) fail(fmt::format("atom {} has id {} (expected >= 1)", i, ids[i]));
        if (!seen.insert(ids[i]).second) fail(fmt::format("atom id {} appears twice", ids[i]));
        if (types[i] < 0 || types[i] >= static_cast<int32_t>(atom_types.size()))
            fail(fmt::format("atom {} has type {} (expected 1..{})", ids[i], types[i] + 1, atom_types.size()));
        if (!std::isfinite(charges[i])) fail(fmt::format("atom {} has a non-finite charge", ids[i]));
        if (!finite(positions[i])) fail(fmt::format("atom {} has a non-finite position", ids[i]));
        if (!finite(velocities[i])) fail(fmt::format("atom {} has a non-finite velocity", ids[i]));
    }
    for (size_t b = 0; b < bonds.size(); ++b) {
        const Bond& bond = bonds[b];
        if (bond.type < 0 || bond.type >= static_cast<int32_t>(bond_types.size()))
            fail(fmt::format("bond {} has type {} (expected 1..{})", b + 1, bond.type + 1, bond_types.size()));
        if (bond.a < 0 || bond.b < 0 || bond.a >= static_cast<int64_t>(n) || bond.b >= static_cast<int64_t>(n))
            fail(fmt::format("bond {} refers to an atom that does not exist", b + 1));
        if (bond.a == bond.b) fail(fmt::format("bond {} joins atom {} to itself", b + 1, ids[bond.a]));
    }
}

}  // namespace ttlm::md
