// NumPy's .npy format (numpy/lib/format.py): magic "\x93NUMPY", version byte pair, header length
// (u16 in version 1.0, u32 in 2.0 and 3.0), a Python dict literal
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces and a newline, then the array's bytes.
#pragma once

#include <string>

#include "io/errors.hpp"
#include "ttl/tensor.hpp"

namespace ttlm::io {

// Reads a C-order, little-endian array: '<f4' -> F32, '<i4' -> I32, '<i8' -> I64, and '<f8' -> F32
// (ttl::Tensor has no f64: values round to nearest, as numpy's astype(np.float32) does). A file
// saying fortran_order True is refused unless its layout equals C order (at most one dimension).
// Accepts versions 1.0, 2.0 and 3.0 and headers written by any numpy (aligned to 16 or 64 bytes,
// with or without the spare growth padding). The data must fill the rest of the file exactly.
// Throws FormatError naming the file and the field (magic, version, header, descr, shape, data);
// std::system_error if the file cannot be opened or read.
ttl::Tensor load_npy(const std::string& path);

// Writes the tensor exactly as numpy.save does (version 1.0 header, 64-byte aligned data, the
// same padding): F32 as '<f4', I32 as '<i4', I64 as '<i8'. BF16 throws std::invalid_argument
// (.npy has no bfloat16; convert with to(ttl::DType::F32)). Writes `path`.tmp and renames it.
void save_npy(const std::string& path, const ttl::Tensor& tensor);

}  // namespace ttlm::io
