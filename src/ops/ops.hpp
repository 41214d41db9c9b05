// ttlm::ops, the op library (the TT-NN analogue): whole-tensor ops on host ttl::Tensors.
//
// Conventions: PyTorch semantics and argument order; results are new tensors, and `_into(out, ...)`
// variants write into a caller's buffer of the result's shape. Bad arguments throw
// std::invalid_argument naming the op, the argument, and what was expected. Work is spread over the
// ttlm::runtime pinned workers, oneDNN's products included. Every op except the matrix products gives
// the same bits on any thread count; those agree to f32 rounding (oneDNN may choose a different
// kernel for each worker's part).
#pragma once

#include "ops/conv.hpp"
#include "ops/elementwise.hpp"
#include "ops/embedding.hpp"
#include "ops/matmul.hpp"
#include "ops/norm.hpp"
#include "ops/reduce.hpp"
#include "ops/shape.hpp"
