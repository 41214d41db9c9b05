// Element types of tensors and dataflow buffers, and the bf16 rounding the chip applies.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ttl {

// Tiles are 32x32 elements on every Tenstorrent architecture (Wormhole, Blackhole).
inline constexpr int kTileDim = 32;
inline constexpr int kTileElems = kTileDim * kTileDim;

// A block shape in tiles (rows, cols).
struct TileShape {
    int rows = 1, cols = 1;
    int tiles() const { return rows * cols; }
    bool operator==(const TileShape&) const = default;
};

enum class DType : uint8_t { F32, BF16, I32, I64 };

constexpr size_t dtype_size(DType t) {
    switch (t) {
        case DType::F32: return 4;
        case DType::BF16: return 2;
        case DType::I32: return 4;
        case DType::I64: return 8;
    }
    return 0;
}

constexpr std::string_view dtype_name(DType t) {
    switch (t) {
        case DType::F32: return "f32";
        case DType::BF16: return "bf16";
        case DType::I32: return "i32";
        case DType::I64: return "i64";
    }
    return "?";
}

// Bytes of one 32x32 tile in L1, as tt-metal counts them.
constexpr size_t tile_bytes(DType t) { return dtype_size(t) * kTileElems; }

// bfloat16 storage: the upper half of an IEEE fp32. Math always runs in fp32; values are
// rounded to nearest even when stored, as the chip's packer does.
struct bf16 {
    uint16_t bits = 0;
};

inline uint16_t float_to_bf16_bits(float f) {
    uint32_t u = std::bit_cast<uint32_t>(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);  // quiet NaN
    uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);
    return static_cast<uint16_t>((u + rounding) >> 16);
}

inline float bf16_bits_to_float(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

inline float round_to_bf16(float f) { return bf16_bits_to_float(float_to_bf16_bits(f)); }

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::F32; }
template <> constexpr DType dtype_of<bf16>() { return DType::BF16; }
template <> constexpr DType dtype_of<int32_t>() { return DType::I32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::I64; }

}  // namespace ttl
