// Shared by the tests that run LAMMPS: a scratch directory per test, and the skip when lmp is absent.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

#include "models/md/lammps_runner.hpp"
#include "models/md/system.hpp"

namespace ttlm::md::testing {

inline std::string scratch_dir(const std::string& name) {
    auto dir = std::filesystem::path(TTLM_BINARY_DIR) / "md-test-scratch" / name;
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir.string();
}

#define TTLM_REQUIRE_LAMMPS()                                                                       \
    do {                                                                                            \
        if (!::ttlm::md::find_lammps())                                                             \
            GTEST_SKIP() << "no `lmp` on PATH: install Debian's lammps (make test does) to compare"; \
    } while (0)

// sqrt(sum |a_i - b_i|^2 / sum |b_i|^2), matching atoms by id.
inline double relative_rms(const System& system, const std::vector<Vec3>& forces, const LammpsForces& lammps) {
    std::unordered_map<int64_t, int64_t> index;
    for (int64_t i = 0; i < system.size(); ++i) index[system.ids[i]] = i;
    EXPECT_EQ(static_cast<int64_t>(lammps.ids.size()), system.size());
    double diff = 0, norm = 0;
    for (size_t k = 0; k < lammps.ids.size(); ++k) {
        auto it = index.find(lammps.ids[k]);
        if (it == index.end()) {
            ADD_FAILURE() << "LAMMPS has atom id " << lammps.ids[k] << " that the system does not";
            return INFINITY;
        }
        diff += (forces[it->second] - lammps.forces[k]).norm2();
        norm += lammps.forces[k].norm2();
    }
    return std::sqrt(diff / norm);
}

}  // namespace ttlm::md::testing
