// Random, mostly wrong, arguments: every op either succeeds with the shape an independent rule
// predicts or throws std::invalid_argument. Anything else (another exception, a crash, a sanitizer
// report) fails.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <optional>
#include <random>

#include "ops/ops.hpp"
#include "ops_test_util.hpp"

namespace ttlm::ops::test {
namespace {

using ttl::DType;
using ttl::Shape;
using ttl::Tensor;

class ArgumentFuzz : public ::testing::Test {
   protected:
    std::mt19937 rng{20240611};

    int64_t pick(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); }

    Shape random_shape(int max_rank = 4, int64_t max_dim = 4) {
        Shape s(pick(0, max_rank));
        for (int64_t& d : s) d = pick(0, max_dim);
        return s;
    }

    // Half the time a variant of `base` (a suffix with some dimensions set to 1), else a random shape:
    // mostly-valid arguments reach the ops' bodies, random ones their checks.
    Shape related_shape(const Shape& base) {
        if (pick(0, 1)) return random_shape();
        Shape s(base.end() - pick(0, static_cast<int64_t>(base.size())), base.end());
        for (int64_t& d : s)
            if (pick(0, 3) == 0) d = 1;
        return s;
    }

    DType random_dtype() {
        const DType all[] = {DType::F32, DType::F32, DType::BF16, DType::I32, DType::I64};
        return all[pick(0, 4)];
    }

    // Runs op; returns its result, or nothing if it threw std::invalid_argument.
    template <class Op> std::optional<Tensor> attempt(Op op) {
        try {
            Tensor result = op();
            ++successes;
            return result;
        } catch (const std::invalid_argument&) {
            ++rejections;
            return std::nullopt;
        }
    }

    // Both outcomes must be common, or the test would not be testing much.
    void TearDown() override {
        EXPECT_GT(successes, 100);
        EXPECT_GT(rejections, 100);
    }

    int successes = 0, rejections = 0;
};

bool is_float(DType t) { return t == DType::F32 || t == DType::BF16; }

TEST_F(ArgumentFuzz, BinaryBroadcasting) {
    for (int i = 0; i < 400; ++i) {
        const Tensor a(random_shape(), pick(0, 3) ? DType::F32 : random_dtype());
        const Tensor b(related_shape(a.shape()), pick(0, 3) ? DType::F32 : random_dtype());
        std::optional<Shape> want = Shape(std::max(a.ndim(), b.ndim()));
        for (size_t d = 0; d < want->size(); ++d) {
            const size_t from_end = want->size() - 1 - d;
            const int64_t da = from_end < a.shape().size() ? a.shape()[a.ndim() - 1 - from_end] : 1;
            const int64_t db = from_end < b.shape().size() ? b.shape()[b.ndim() - 1 - from_end] : 1;
            if (da != db && da != 1 && db != 1) want.reset();
            if (!want) break;
            (*want)[d] = da == 1 ? db : da;
        }
        if (!is_float(a.dtype()) || !is_float(b.dtype())) want.reset();
        const auto got = attempt([&] { return mul(a, b); });
        ASSERT_EQ(got.has_value(), want.has_value()) << a.describe() << " * " << b.describe();
        if (got) {
            EXPECT_EQ(got->shape(), *want);
        }
    }
}

TEST_F(ArgumentFuzz, MatmulAndLinear) {
    for (int i = 0; i < 300; ++i) {
        const DType dtype = pick(0, 3) ? DType::F32 : random_dtype();
        const Tensor a(random_shape(4, 5), dtype);
        Shape b_shape = random_shape(3, 5);
        if (pick(0, 1) && a.ndim() >= 2) {  // a's inner dimension, and its batch dimensions or none
            b_shape = pick(0, 1) ? Shape{} : Shape(a.shape().begin(), a.shape().end() - 2);
            b_shape.insert(b_shape.end(), {a.dim(-1), pick(0, 5)});
        }
        const Tensor b(b_shape, pick(0, 5) ? dtype : random_dtype());
        const bool ok = is_float(a.dtype()) && a.dtype() == b.dtype() && a.ndim() >= 2 && b.ndim() >= 2 &&
                        a.dim(-1) == b.dim(-2) &&
                        (b.ndim() == 2 || Shape(a.shape().begin(), a.shape().end() - 2) ==
                                              Shape(b.shape().begin(), b.shape().end() - 2));
        const auto got = attempt([&] { return matmul(a, b); });
        ASSERT_EQ(got.has_value(), ok) << a.describe() << " @ " << b.describe();
        const Tensor w(pick(0, 1) && a.ndim() >= 1 ? Shape{pick(0, 5), a.dim(-1)} : random_shape(2, 5), dtype);
        const bool linear_ok = is_float(a.dtype()) && a.ndim() >= 1 && w.ndim() == 2 && w.dim(1) == a.dim(-1);
        ASSERT_EQ(attempt([&] { return linear(a, w); }).has_value(), linear_ok) << a.describe() << " " << w.describe();
    }
}

TEST_F(ArgumentFuzz, ShapeOps) {
    for (int i = 0; i < 400; ++i) {
        const Tensor x(random_shape(), pick(0, 2) ? DType::F32 : random_dtype());
        std::vector<int64_t> dims(pick(0, 4));
        for (int64_t& d : dims) d = pick(-5, 4);
        if (pick(0, 1)) {  // a valid permutation
            dims.resize(x.ndim());
            std::iota(dims.begin(), dims.end(), int64_t{0});
            std::shuffle(dims.begin(), dims.end(), rng);
        }
        const auto permuted = attempt([&] { return permute(x, dims); });
        if (permuted) {
            EXPECT_EQ(permuted->numel(), x.numel());
        }

        const int64_t dim = pick(-x.ndim() - 1, x.ndim()), begin = pick(-5, 5), end = pick(-5, 5);
        const auto sliced = attempt([&] { return slice(x, dim, begin, end); });
        if (sliced) {
            const int d = static_cast<int>(dim < 0 ? dim + x.ndim() : dim);
            const int64_t size = x.shape()[d], b = begin < 0 ? begin + size : begin, e = end < 0 ? end + size : end;
            EXPECT_EQ(sliced->shape()[d], e - b);
        }

        const Tensor y(pick(0, 1) ? x.shape() : random_shape(), pick(0, 3) ? x.dtype() : random_dtype());
        const auto joined = attempt([&] { return concat({x, y, x}, dim); });
        if (joined) {
            EXPECT_EQ(joined->numel(), 2 * x.numel() + y.numel());
        }
    }
}

TEST_F(ArgumentFuzz, RowOpsReductionsEmbeddingAndConv) {
    for (int i = 0; i < 300; ++i) {
        const Tensor x(random_shape(), random_dtype());
        const int64_t dim = pick(-5, 4);
        for (const auto& got : {attempt([&] { return softmax(x, dim); }), attempt([&] { return log_softmax(x, dim); }),
                                attempt([&] { return rms_norm(x, Tensor(random_shape(1), random_dtype()), 1e-6f); })})
            if (got) {
                EXPECT_EQ(got->shape(), x.shape());
            }
        for (const auto& got : {attempt([&] { return sum(x, dim, true); }), attempt([&] { return max(x, dim, true); }),
                                attempt([&] { return argmax(x, dim, true); })})
            if (got) {
                EXPECT_EQ(got->ndim(), x.ndim());
            }

        Tensor ids(random_shape(3, 3), pick(0, 1) ? DType::I64 : DType::I32);
        for (int64_t j = 0; j < ids.numel(); ++j) {
            const int64_t id = pick(-1, 5);
            if (ids.dtype() == DType::I64)
                ids.data<int64_t>()[j] = id;
            else
                ids.data<int32_t>()[j] = static_cast<int32_t>(id);
        }
        const auto rows = attempt([&] { return embedding(ids, Tensor(random_shape(2, 5), random_dtype())); });
        if (rows) {
            EXPECT_EQ(rows->ndim(), ids.ndim() + 1);
        }

        const auto conv = attempt([&] {
            return conv1d_depthwise_causal(Tensor(random_shape(3, 4), random_dtype()),
                                           Tensor(random_shape(3, 4), random_dtype()), pick(-1, 3));
        });
        if (conv) {
            EXPECT_EQ(conv->ndim(), 3);
        }
    }
}

}  // namespace
}  // namespace ttlm::ops::test
