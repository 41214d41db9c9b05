// safetensors (https://github.com/huggingface/safetensors): the checkpoint format models load.
//
// Layout: a u64 little-endian header length N, N bytes of UTF-8 JSON
//   {"__metadata__": {str: str}, name: {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
// then the data section; offsets are relative to its start. Tensors are little-endian, C order,
// and tile the data section exactly: no overlaps, no holes, no trailing bytes.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/errors.hpp"
#include "ttl/tensor.hpp"

namespace ttlm::io {

// An open checkpoint. Copies share the mapping; const methods may be called from several threads.
class SafetensorsFile {
   public:
    struct Entry {
        std::string name;
        std::string dtype;  // as the file spells it: "F32", "BF16", "F16", "I64", ...
        ttl::Shape shape;
        size_t begin = 0, end = 0;  // byte offsets in the data section
    };

    // Maps the file and validates the whole header up front (every entry, offsets against the file
    // size, overlaps and holes), so later calls fail only for what the caller asks. Reads no tensor
    // data: a multi-gigabyte checkpoint opens in milliseconds.
    // Throws FormatError for a malformed file, std::system_error if it cannot be opened or mapped.
    static SafetensorsFile open(const std::string& path);

    const std::string& path() const { return path_; }
    // Tensor names sorted bytewise, as Python's safe_open(...).keys() lists them.
    std::vector<std::string> names() const;
    bool contains(std::string_view name) const;
    // Throws FormatError naming the file, the missing tensor and the closest names in the file.
    const Entry& entry(std::string_view name) const;

    // Zero-copy view of an F32, BF16, I32 or I64 tensor into the mapping (which it keeps alive).
    // The mapping is private: writing into a view never changes the file, but is seen by every
    // other view of the same tensor from this SafetensorsFile. A tensor the file stores at an
    // address its dtype cannot be read from (headers not padded to 8 bytes) is copied instead.
    ttl::Tensor tensor(std::string_view name) const;
    // The loaders' common case: the tensor must have this dtype and shape, e.g.
    // "weights.safetensors: tensor 'key_projs.0.weight': shape [1024, 512], expected [1024, 1024]".
    ttl::Tensor tensor(std::string_view name, ttl::DType dtype, const ttl::Shape& shape) const;
    // The tensor as F32 whatever float type the file holds: BF16 and F16 widen exactly, F64 rounds
    // to nearest. These conversions copy; an F32 tensor comes back as the zero-copy view.
    ttl::Tensor tensor_f32(std::string_view name) const;

    // The "__metadata__" map (empty when the file has none).
    const std::map<std::string, std::string>& metadata() const { return metadata_; }

   private:
    SafetensorsFile() = default;
    [[noreturn]] void fail(std::string_view name, std::string_view what) const;
    std::byte* data_of(const Entry& e) const { return data_section_ + e.begin; }

    std::string path_;
    std::shared_ptr<std::byte> mapping_;  // the whole file, privately mapped; unmapped with the last view
    std::byte* data_section_ = nullptr;
    std::map<std::string, Entry, std::less<>> entries_;
    std::map<std::string, std::string> metadata_;
};

// Writes the tensors (F32, BF16, I32, I64) the way the reference Rust library does: sorted by
// descending dtype then name, so every tensor is aligned to its element size, and the header padded
// with spaces to a multiple of 8 bytes. Writes to `path`.tmp and renames it over `path`, so readers
// never see a half-written file. Throws std::invalid_argument for duplicate or reserved names
// ("__metadata__"), undefined tensors and invalid UTF-8; std::system_error for I/O failures.
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, ttl::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace ttlm::io
