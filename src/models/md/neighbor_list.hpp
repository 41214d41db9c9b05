// Cell lists plus Verlet lists with a skin, laid out as blocks of atoms for the pair-force kernel.
//
// At each build, atoms are binned into cells at least half the list cutoff (cutoff + skin) wide and
// renumbered in cell order ("sorted" indices), so that atoms that are close in space are close in
// memory. Sorted atoms are cut into blocks of kBlockAtoms; each block holds, for each of its atoms, the
// sorted indices of every other atom within the list cutoff (a full list: each pair appears twice),
// stored slot-major, kBlockAtoms indices per slot, padded with the atom's own index (which the kernel
// masks). A block is thus a kBlockAtoms x slots tile of pairs, the shape a TT-Lang kernel streams
// through a dataflow buffer. There is no cell capacity: cells hold however many atoms they get.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "models/md/system.hpp"

namespace ttlm::md {

class NeighborList {
   public:
    static constexpr int kBlockAtoms = 8;

    struct Block {
        const int32_t* neighbors;  // [slots][kBlockAtoms] sorted atom indices
        int32_t slots;
    };
    struct ClosestPair {  // the closest two atoms seen by the last build (original indices)
        int64_t i = -1, j = -1;
        double distance = std::numeric_limits<double>::infinity();
    };

    // `cutoff` is the interaction cutoff; pairs within cutoff + skin are listed. The box must be at
    // least 2 (cutoff + skin) wide in every direction (so minimum-image pairs are unique); the caller
    // shrinks the skin when it is not.
    NeighborList(double cutoff, double skin);

    // Rebuilds from `positions` (original order, wrapped into the box).
    ClosestPair build(const Box& box, std::span<const Vec3> positions);
    // True when some atom has moved more than half the skin since the last build, so that a pair
    // could have come within the cutoff unseen.
    bool needs_rebuild(const Box& box, std::span<const Vec3> positions) const;

    double cutoff() const { return cutoff_; }
    double skin() const { return skin_; }
    int64_t builds() const { return builds_; }
    int64_t atoms() const { return static_cast<int64_t>(original_.size()); }
    // Sorted index -> original index, for the atoms() atoms (padding lanes of the last block are >= atoms()).
    std::span<const int32_t> original() const { return original_; }
    int64_t num_blocks() const { return static_cast<int64_t>(blocks_.size()); }
    Block block(int64_t b) const {
        const BlockRef& r = blocks_[b];
        return {thread_storage_[r.thread].data() + r.offset, r.slots};
    }

   private:
    struct BlockRef {
        int32_t thread;
        int32_t slots;
        int64_t offset;
    };

    double cutoff_, skin_;
    int64_t builds_ = 0;
    std::vector<int32_t> original_;
    std::vector<Vec3> positions_at_build_;
    std::vector<BlockRef> blocks_;
    std::vector<std::vector<int32_t>> thread_storage_;
};

}  // namespace ttlm::md
