// The ttl kernel language: include this one header to write kernels.
#pragma once

#include "ttl/block_math.hpp"
#include "ttl/copy.hpp"
#include "ttl/dataflow_buffer.hpp"
#include "ttl/dtype.hpp"
#include "ttl/operation.hpp"
#include "ttl/pipe.hpp"
#include "ttl/tensor.hpp"
