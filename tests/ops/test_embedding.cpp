#include <gtest/gtest.h>

#include <cstring>

#include "ops/ops.hpp"
#include "ops_test_util.hpp"

namespace ttlm::ops::test {
namespace {

using ttl::DType;
using ttl::Shape;
using ttl::Tensor;

Tensor ids_tensor(const std::vector<int64_t>& ids, const Shape& shape, DType dtype) {
    Tensor t(shape, DType::I64);
    std::memcpy(t.raw(), ids.data(), ids.size() * sizeof(int64_t));
    return t.to(dtype);
}

TEST(Embedding, GathersRowsForI64AndI32IdsAndBothTableDtypes) {
    const std::vector<int64_t> ids{3, 0, 10, 3, 7, 1};
    for (DType id_dtype : {DType::I64, DType::I32}) {
        for (DType table_dtype : {DType::F32, DType::BF16}) {
            const Tensor table = random_tensor({11, 7}, 1, -1.0f, 1.0f, table_dtype);
            const Tensor y = embedding(ids_tensor(ids, {2, 3}, id_dtype), table);
            ASSERT_EQ(y.shape(), (Shape{2, 3, 7}));
            ASSERT_EQ(y.dtype(), table_dtype);
            const size_t row_bytes = 7 * ttl::dtype_size(table_dtype);
            for (size_t i = 0; i < ids.size(); ++i)
                EXPECT_EQ(std::memcmp(static_cast<const char*>(y.raw()) + i * row_bytes,
                                      static_cast<const char*>(table.raw()) + ids[i] * row_bytes, row_bytes),
                          0);
        }
    }
}

TEST(Embedding, IntoAndZeroDimensionalIds) {
    const Tensor table = random_tensor({5, 4}, 2);
    Tensor out({4});
    embedding_into(out, ids_tensor({2}, {}, DType::I64), table);
    for (int j = 0; j < 4; ++j) EXPECT_EQ(out.data<float>()[j], table.data<float>()[2 * 4 + j]);
}

TEST(Embedding, ErrorsNameTheIdItsPositionAndTheTable) {
    const Tensor table({11, 7});
    EXPECT_INVALID_ARGUMENT(embedding(ids_tensor({1, 2, 3, 4, 5, 11}, {2, 3}, DType::I64), table),
                            "embedding: ids[1, 2] = 11 is out of range for table f32[11, 7] (expected 0 <= id < 11)");
    EXPECT_INVALID_ARGUMENT(embedding(ids_tensor({-1}, {1}, DType::I32), table),
                            "embedding: ids[0] = -1 is out of range");
    EXPECT_INVALID_ARGUMENT(embedding(Tensor({2}), table), "embedding: ids f32[2] has dtype f32; expected i64 or i32");
    EXPECT_INVALID_ARGUMENT(embedding(Tensor({2}, DType::I64), Tensor({11})),
                            "embedding: table f32[11] must be 2-D [num_embeddings, embedding_dim]");
    Tensor out({2, 7}, DType::BF16);
    EXPECT_INVALID_ARGUMENT(embedding_into(out, Tensor({2}, DType::I64), table),
                            "embedding_into: out bf16[2, 7] has dtype bf16; expected f32");
}

TEST(Embedding, SameBitsOnOneAndTwoThreads) {
    Tensor ids({5000}, DType::I64);
    for (int64_t i = 0; i < 5000; ++i) ids.data<int64_t>()[i] = (i * 7919) % 1000;
    const Tensor table = random_tensor({1000, 64}, 3);
    auto [one, two] = on_one_and_two_threads([&] { return embedding(ids, table); });
    EXPECT_TRUE(same_bytes(one, two));
}

}  // namespace
}  // namespace ttlm::ops::test
