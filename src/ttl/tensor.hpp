// ttl::Tensor: a host tensor ("DRAM"), row-major, shape in elements. Kernels address it in
// 32x32 tiles over its last two dimensions (leading dimensions fold into rows, as TT-NN's
// interleaved tile layout does); the op library addresses it element by element.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "ttl/dtype.hpp"

namespace ttl {

using Shape = std::vector<int64_t>;

class Tensor;

// A range of tiles [begin, end), as Python's slice in TT-Lang's `a[r0:r1, c]`.
struct TileRange {
    int64_t begin = 0, end = 0;
};
inline TileRange slice(int64_t begin, int64_t end) { return {begin, end}; }

// One tile index or a range of them; `t(r, c)` and `t(slice(r0, r1), c)` both build these.
struct TileIndex {
    int64_t begin = 0, end = 1;
    TileIndex(int64_t i) : begin(i), end(i + 1) {}
    TileIndex(TileRange r) : begin(r.begin), end(r.end) {}
    int64_t count() const { return end - begin; }
};

// A rectangle of tiles of a tensor: an endpoint of ttl::copy (data movement kernels only).
struct TensorSlice {
    const Tensor* tensor = nullptr;
    TileIndex rows{0}, cols{0};
};

std::string shape_str(const Shape& s);  // "[1, 32, 1024]"

class Tensor {
   public:
    Tensor() = default;
    // Zero-initialised tensor.
    explicit Tensor(Shape shape, DType dtype = DType::F32);
    static Tensor zeros(Shape shape, DType dtype = DType::F32) { return Tensor(std::move(shape), dtype); }
    // Uninitialised storage, for outputs that are fully overwritten.
    static Tensor empty(Shape shape, DType dtype = DType::F32);
    // Wraps memory owned elsewhere (an mmap'd file, say); `owner` keeps it alive.
    static Tensor wrap(void* data, Shape shape, DType dtype, std::shared_ptr<void> owner);
    static Tensor from_vector(const std::vector<float>& values, Shape shape);

    bool defined() const { return data_ != nullptr || numel() == 0; }
    const Shape& shape() const { return shape_; }
    int ndim() const { return static_cast<int>(shape_.size()); }
    int64_t dim(int i) const;  // negative i counts from the end
    int64_t numel() const;
    DType dtype() const { return dtype_; }
    size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }

    // 2-D view used by kernels: rows = product of all but the last dimension.
    int64_t rows() const;
    int64_t cols() const { return shape_.empty() ? 1 : shape_.back(); }
    int64_t tile_rows() const { return (rows() + kTileDim - 1) / kTileDim; }
    int64_t tile_cols() const { return (cols() + kTileDim - 1) / kTileDim; }

    // Tile addressing for ttl::copy: rows/columns of 32x32 tiles over the 2-D view.
    TensorSlice operator()(TileIndex tile_row, TileIndex tile_col) const { return {this, tile_row, tile_col}; }

    void* raw() { return data_; }
    const void* raw() const { return data_; }
    // Kernels write outputs through slices of tensors they hold by const reference, as TT-NN
    // tensors are handles: the storage is shared, not the handle.
    void* mutable_raw() const { return data_; }
    template <class T> T* data() {
        check_dtype(dtype_of<T>());
        return static_cast<T*>(data_);
    }
    template <class T> const T* data() const {
        check_dtype(dtype_of<T>());
        return static_cast<const T*>(data_);
    }
    template <class T> std::span<T> span() { return {data<T>(), static_cast<size_t>(numel())}; }
    template <class T> std::span<const T> span() const { return {data<T>(), static_cast<size_t>(numel())}; }

    // Same storage, new shape (element counts must agree).
    Tensor reshape(Shape shape) const;
    // Deep copy.
    Tensor clone() const;
    // Converted copy (f32 <-> bf16 rounds to nearest even; ints convert by value).
    Tensor to(DType dtype) const;
    // "f32[1, 32, 1024]"
    std::string describe() const;

    // Name used in error messages of kernels that touch this tensor.
    const std::string& name() const { return name_; }
    Tensor& set_name(std::string name) {
        name_ = std::move(name);
        return *this;
    }
    // Identity of the storage, for race detection.
    const void* storage_id() const { return storage_.get(); }

   private:
    void check_dtype(DType want) const;

    Shape shape_;
    DType dtype_ = DType::F32;
    std::shared_ptr<void> storage_;
    void* data_ = nullptr;
    std::string name_;
};

}  // namespace ttl
