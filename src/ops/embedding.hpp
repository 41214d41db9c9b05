// Embedding lookup (nn.Embedding / F.embedding): rows of a table gathered by id.
#pragma once

#include "ttl/tensor.hpp"

namespace ttlm::ops {

// ids (i64 or i32) [...] and table [V, D] (f32 or bf16) -> [..., D] in the table's dtype.
// An id outside [0, V) is an error naming the id and its position in `ids`.
ttl::Tensor embedding(const ttl::Tensor& ids, const ttl::Tensor& table);
void embedding_into(ttl::Tensor& out, const ttl::Tensor& ids, const ttl::Tensor& table);

}  // namespace ttlm::ops
