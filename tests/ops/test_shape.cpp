#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "ops/ops.hpp"
#include "ops_test_util.hpp"

namespace ttlm::ops::test {
namespace {

using ttl::DType;
using ttl::Shape;
using ttl::Tensor;

// Element i holds the value i, in any dtype (exact up to 2^8 for bf16, so keep bf16 tensors small).
Tensor iota(const Shape& shape, DType dtype) {
    Tensor t(shape, DType::I64);
    std::iota(t.data<int64_t>(), t.data<int64_t>() + t.numel(), int64_t{0});
    return t.to(dtype);
}

std::vector<int64_t> strides_of(const Shape& shape) {
    std::vector<int64_t> s(shape.size(), 1);
    for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * shape[i + 1];
    return s;
}

// out[i0, i1, ...] = x[j...] with j[dims[k]] = i[k]: the flat source index of every output element.
std::vector<double> reference_permute(const Shape& shape, const std::vector<int64_t>& dims) {
    Shape out_shape;
    for (int64_t d : dims) out_shape.push_back(shape[d]);
    const std::vector<int64_t> in_strides = strides_of(shape);
    int64_t total = 1;
    for (int64_t d : shape) total *= d;
    std::vector<double> out(total);
    for (int64_t i = 0; i < total; ++i) {
        int64_t rest = i, source = 0;
        for (int k = static_cast<int>(dims.size()) - 1; k >= 0; --k) {
            source += rest % out_shape[k] * in_strides[dims[k]];
            rest /= out_shape[k];
        }
        out[i] = static_cast<double>(source);
    }
    return out;
}

TEST(Shape, PermuteEveryOrderOfFourDimensions) {
    const Shape shape{2, 3, 4, 5};
    std::vector<int64_t> dims{0, 1, 2, 3};
    do {
        SCOPED_TRACE(ttl::shape_str(dims));
        for (DType dtype : {DType::F32, DType::I64, DType::BF16}) {
            const Tensor y = permute(iota(shape, dtype), dims);
            ASSERT_EQ(y.dtype(), dtype);
            EXPECT_EQ(values(y), reference_permute(shape, dims));
        }
    } while (std::next_permutation(dims.begin(), dims.end()));
}

TEST(Shape, PermuteWithUnitDimensionsAndTranspose) {
    const Shape shape{1, 5, 1, 7};
    EXPECT_EQ(values(permute(iota(shape, DType::F32), {3, 1, 0, 2})), reference_permute(shape, {3, 1, 0, 2}));
    EXPECT_EQ(values(permute(iota(shape, DType::I32), {-1, 1, 0, -2})), reference_permute(shape, {3, 1, 0, 2}));
    const Shape odd{3, 37, 45};
    const Tensor t = transpose(iota(odd, DType::F32), -1, -2);
    EXPECT_EQ(t.shape(), (Shape{3, 45, 37}));
    EXPECT_EQ(values(t), reference_permute(odd, {0, 2, 1}));
    EXPECT_EQ(values(transpose(iota(odd, DType::F32), 0, 0)), values(iota(odd, DType::F32)));
}

TEST(Shape, ConcatAlongEachDimension) {
    for (int dim : {0, 1, 2, -1}) {
        SCOPED_TRACE("dim " + std::to_string(dim));
        const int d = dim < 0 ? dim + 3 : dim;
        std::vector<Tensor> parts;
        for (int64_t size : {2, 1, 3}) {
            Shape s{2, 3, 4};
            s[d] = size;
            parts.push_back(random_tensor(s, static_cast<uint32_t>(size), -1.0f, 1.0f).to(DType::I32));
        }
        const Tensor y = concat(parts, dim);
        Shape want_shape{2, 3, 4};
        want_shape[d] = 6;
        ASSERT_EQ(y.shape(), want_shape);
        // Element (i, j, k) of y comes from the part whose range along d holds that coordinate.
        const std::vector<double> got = values(y);
        const std::vector<int64_t> strides = strides_of(want_shape);
        for (int64_t flat = 0; flat < y.numel(); ++flat) {
            int64_t index[3] = {flat / strides[0], flat / strides[1] % want_shape[1], flat % want_shape[2]};
            size_t part = 0;
            while (index[d] >= parts[part].shape()[d]) index[d] -= parts[part++].shape()[d];
            const Shape& ps = parts[part].shape();
            const int64_t source = (index[0] * ps[1] + index[1]) * ps[2] + index[2];
            ASSERT_EQ(got[flat], values(parts[part])[source]) << flat;
        }
    }
}

TEST(Shape, SliceWithNegativeBoundsAndEmptyRanges) {
    const Shape shape{3, 37, 45};
    const Tensor x = iota(shape, DType::F32);
    const Tensor y = slice(x, 1, -10, -2);
    ASSERT_EQ(y.shape(), (Shape{3, 8, 45}));
    const std::vector<double> got = values(y);
    for (int64_t i = 0; i < 3; ++i)
        for (int64_t j = 0; j < 8; ++j)
            for (int64_t k = 0; k < 45; ++k)
                ASSERT_EQ(got[(i * 8 + j) * 45 + k], static_cast<double>((i * 37 + 27 + j) * 45 + k));
    const std::vector<double> last = values(slice(x, -1, 44, 45));
    ASSERT_EQ(last.size(), 3u * 37u);
    for (size_t row = 0; row < last.size(); ++row) ASSERT_EQ(last[row], static_cast<double>(row * 45 + 44));
    EXPECT_EQ(slice(x, 0, 2, 2).shape(), (Shape{0, 37, 45}));
    EXPECT_EQ(values(slice(x, 0, 0, 3)), values(x));
}

TEST(Shape, ReshapeIsAView) {
    Tensor x = iota({4, 6}, DType::F32);
    Tensor r = reshape(x, {2, -1, 3});
    EXPECT_EQ(r.shape(), (Shape{2, 4, 3}));
    r.data<float>()[5] = -1.0f;
    EXPECT_EQ(x.data<float>()[5], -1.0f);
}

TEST(Shape, ErrorsNameOpArgumentAndShapes) {
    const Tensor x({2, 3, 4});
    EXPECT_INVALID_ARGUMENT(permute(x, {0, 1}), "permute: dims has 2 entries; x f32[2, 3, 4] has 3 dimensions");
    EXPECT_INVALID_ARGUMENT(permute(x, {0, 1, 1}), "permute: dims [0, 1, 1] repeats dimension 1");
    EXPECT_INVALID_ARGUMENT(transpose(x, 0, 3), "transpose: dim1 3 is out of range for f32[2, 3, 4]");
    EXPECT_INVALID_ARGUMENT(concat({}, 0), "concat: tensors is empty");
    EXPECT_INVALID_ARGUMENT(concat({x, Tensor({2, 3, 4}, DType::BF16)}, 0),
                            "concat: tensors[1] bf16[2, 3, 4] has dtype bf16; tensors[0] f32[2, 3, 4] has f32");
    EXPECT_INVALID_ARGUMENT(
        concat({x, Tensor({2, 5, 5})}, 1),
        "concat: tensors[1] f32[2, 5, 5] does not match tensors[0] f32[2, 3, 4] outside dimension 1");
    EXPECT_INVALID_ARGUMENT(slice(x, 2, 1, 5),
                            "slice: range [1, 5) is not within dimension 2 of x f32[2, 3, 4] (size 4");
    EXPECT_INVALID_ARGUMENT(slice(x, 0, 2, 1), "slice: range [2, 1)");
    EXPECT_INVALID_ARGUMENT(reshape(x, {5, 5}), "reshape: cannot view f32[2, 3, 4] as [5, 5]");
}

TEST(Shape, SameBitsOnOneAndTwoThreads) {
    const Tensor x = random_tensor({300, 517}, 4);
    auto [one, two] = on_one_and_two_threads([&] { return transpose(x, 0, 1); });
    EXPECT_TRUE(same_bytes(one, two));
    auto [one_c, two_c] = on_one_and_two_threads([&] { return concat({x, x}, 1); });
    EXPECT_TRUE(same_bytes(one_c, two_c));
    auto [one_s, two_s] = on_one_and_two_threads([&] { return slice(x, 1, 3, -5); });
    EXPECT_TRUE(same_bytes(one_s, two_s));
    const Tensor cube = reshape(x, {300, 11, 47});
    auto [one_p, two_p] = on_one_and_two_threads([&] { return permute(cube, {2, 0, 1}); });
    EXPECT_TRUE(same_bytes(one_p, two_p));
}

}  // namespace
}  // namespace ttlm::ops::test
