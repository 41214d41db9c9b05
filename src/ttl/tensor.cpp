#include "ttl/tensor.hpp"

#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "ttl/detail/storage.hpp"

namespace ttl {

std::string shape_str(const Shape& s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

namespace {

int64_t count(const Shape& s) {
    int64_t n = 1;
    for (int64_t d : s) {
        if (d < 0) throw std::invalid_argument(fmt::format("tensor shape {} has a negative dimension", shape_str(s)));
        n *= d;
    }
    return n;
}

}  // namespace

Tensor::Tensor(Shape shape, DType dtype) : shape_(std::move(shape)), dtype_(dtype) {
    storage_ = detail::allocate_storage(static_cast<size_t>(count(shape_)) * dtype_size(dtype_), true);
    data_ = storage_.get();
}

Tensor Tensor::empty(Shape shape, DType dtype) {
    Tensor t;
    t.shape_ = std::move(shape);
    t.dtype_ = dtype;
    t.storage_ = detail::allocate_storage(static_cast<size_t>(count(t.shape_)) * dtype_size(dtype), false);
    t.data_ = t.storage_.get();
    return t;
}

Tensor Tensor::wrap(void* data, Shape shape, DType dtype, std::shared_ptr<void> owner) {
    Tensor t;
    t.shape_ = std::move(shape);
    count(t.shape_);
    t.dtype_ = dtype;
    t.storage_ = std::move(owner);
    t.data_ = data;
    return t;
}

Tensor Tensor::from_vector(const std::vector<float>& values, Shape shape) {
    Tensor t(std::move(shape));
    if (static_cast<size_t>(t.numel()) != values.size())
        throw std::invalid_argument(fmt::format("Tensor::from_vector: {} values do not fill shape {}", values.size(),
                                                shape_str(t.shape_)));
    std::memcpy(t.data_, values.data(), values.size() * sizeof(float));
    return t;
}

int64_t Tensor::dim(int i) const {
    int n = ndim();
    int j = i < 0 ? i + n : i;
    if (j < 0 || j >= n)
        throw std::out_of_range(fmt::format("dimension {} is out of range for a tensor of shape {}", i, shape_str(shape_)));
    return shape_[j];
}

int64_t Tensor::numel() const { return count(shape_); }

int64_t Tensor::rows() const {
    int64_t r = 1;
    for (size_t i = 0; i + 1 < shape_.size(); ++i) r *= shape_[i];
    return r;
}

Tensor Tensor::reshape(Shape shape) const {
    // One dimension may be -1: inferred from the others.
    int64_t known = 1;
    int infer = -1;
    for (size_t i = 0; i < shape.size(); ++i) {
        if (shape[i] == -1) {
            if (infer >= 0) throw std::invalid_argument("reshape: more than one -1 dimension");
            infer = static_cast<int>(i);
        } else {
            known *= shape[i];
        }
    }
    if (infer >= 0 && known > 0) shape[infer] = numel() / known;
    if (count(shape) != numel())
        throw std::invalid_argument(
            fmt::format("reshape: cannot view {} as {} (element counts differ)", describe(), shape_str(shape)));
    Tensor t = *this;
    t.shape_ = std::move(shape);
    return t;
}

Tensor Tensor::clone() const {
    Tensor t = empty(shape_, dtype_);
    if (nbytes()) std::memcpy(t.data_, data_, nbytes());
    t.name_ = name_;
    return t;
}

Tensor Tensor::to(DType dtype) const {
    if (dtype == dtype_) return clone();
    Tensor t = empty(shape_, dtype);
    const int64_t n = numel();
    auto load = [&](int64_t i) -> double {
        switch (dtype_) {
            case DType::F32: return static_cast<const float*>(data_)[i];
            case DType::BF16: return bf16_bits_to_float(static_cast<const uint16_t*>(data_)[i]);
            case DType::I32: return static_cast<const int32_t*>(data_)[i];
            case DType::I64: return static_cast<double>(static_cast<const int64_t*>(data_)[i]);
        }
        return 0;
    };
    for (int64_t i = 0; i < n; ++i) {
        double v = load(i);
        switch (dtype) {
            case DType::F32: static_cast<float*>(t.data_)[i] = static_cast<float>(v); break;
            case DType::BF16: static_cast<uint16_t*>(t.data_)[i] = float_to_bf16_bits(static_cast<float>(v)); break;
            case DType::I32: static_cast<int32_t*>(t.data_)[i] = static_cast<int32_t>(v); break;
            case DType::I64: static_cast<int64_t*>(t.data_)[i] = static_cast<int64_t>(v); break;
        }
    }
    if (dtype_ == DType::I64 && dtype == DType::I32) {  // exact for ids beyond 2^53 too
        for (int64_t i = 0; i < n; ++i)
            static_cast<int32_t*>(t.data_)[i] = static_cast<int32_t>(static_cast<const int64_t*>(data_)[i]);
    } else if (dtype_ == DType::I32 && dtype == DType::I64) {
        for (int64_t i = 0; i < n; ++i) static_cast<int64_t*>(t.data_)[i] = static_cast<const int32_t*>(data_)[i];
    }
    return t;
}

std::string Tensor::describe() const { return fmt::format("{}{}", dtype_name(dtype_), shape_str(shape_)); }

void Tensor::check_dtype(DType want) const {
    if (want != dtype_)
        throw std::invalid_argument(fmt::format("tensor{} {} accessed as {}", name_.empty() ? "" : " '" + name_ + "'",
                                                describe(), dtype_name(want)));
}

}  // namespace ttl
