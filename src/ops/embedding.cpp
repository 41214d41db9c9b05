#include "ops/embedding.hpp"

#include <cstring>

#include "ops/detail.hpp"
#include "runtime/thread_pool.hpp"

namespace ttlm::ops {

using detail::fail;
using ttl::DType;
using ttl::Shape;
using ttl::Tensor;

namespace {

// "[1, 3]": the multi-index of flat position `flat` in `shape`.
std::string position_str(const Shape& shape, int64_t flat) {
    Shape index(shape.size());
    for (size_t d = shape.size(); d-- > 0;) {
        index[d] = flat % shape[d];
        flat /= shape[d];
    }
    return ttl::shape_str(index);
}

Shape check_embedding(std::string_view op, const Tensor& ids, const Tensor& table) {
    detail::check_dtype(op, "ids", ids, {DType::I64, DType::I32});
    detail::check_float(op, "table", table);
    if (table.ndim() != 2) fail("{}: table {} must be 2-D [num_embeddings, embedding_dim]", op, table.describe());
    Shape out_shape = ids.shape();
    out_shape.push_back(table.dim(1));
    return out_shape;
}

template <class Id> void gather_rows(std::string_view op, const Tensor& id_tensor, const Tensor& table, Tensor& out) {
    const Id* ids = id_tensor.data<Id>();
    const int64_t count = id_tensor.numel(), vocab = table.dim(0);
    // Validate first, so that the error names the first bad id whatever the thread count.
    for (int64_t i = 0; i < count; ++i) {
        if (ids[i] < 0 || ids[i] >= vocab)
            fail("{}: ids{} = {} is out of range for table {} (expected 0 <= id < {})", op,
                 position_str(id_tensor.shape(), i), static_cast<int64_t>(ids[i]), table.describe(), vocab);
    }
    const int64_t row_bytes = table.dim(1) * static_cast<int64_t>(ttl::dtype_size(table.dtype()));
    const char* src = static_cast<const char*>(table.raw());
    char* dst = static_cast<char*>(out.raw());
    runtime::parallel_for(
        count,
        [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) std::memcpy(dst + i * row_bytes, src + ids[i] * row_bytes, row_bytes);
        },
        detail::row_grain(table.dim(1)));
}

void run_embedding(std::string_view op, Tensor& out, const Tensor& ids, const Tensor& table) {
    if (ids.dtype() == DType::I64)
        gather_rows<int64_t>(op, ids, table, out);
    else
        gather_rows<int32_t>(op, ids, table, out);
}

}  // namespace

Tensor embedding(const Tensor& ids, const Tensor& table) {
    Tensor out = Tensor::empty(check_embedding("embedding", ids, table), table.dtype());
    run_embedding("embedding", out, ids, table);
    return out;
}

void embedding_into(Tensor& out, const Tensor& ids, const Tensor& table) {
    detail::check_out("embedding_into", out, check_embedding("embedding_into", ids, table), {table.dtype()});
    run_embedding("embedding_into", out, ids, table);
}

}  // namespace ttlm::ops
