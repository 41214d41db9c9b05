// Data movement: copies between tensors ("DRAM") and blocks, and over pipes between nodes.
// A copy is asynchronous; its transfer's wait() completes it. Data-movement kernels only.
#pragma once

#include <source_location>
#include <vector>

#include "ttl/dataflow_buffer.hpp"
#include "ttl/tensor.hpp"

namespace ttl {

class SrcPipe;
class DstPipe;
namespace detail {
struct TransferState;
}

class Transfer {
   public:
    Transfer() = default;
    Transfer(Transfer&& o) noexcept;
    Transfer& operator=(Transfer&& o) noexcept;
    Transfer(const Transfer&) = delete;
    ~Transfer();
    // Blocks until the copy has completed; the handle is spent afterwards.
    void wait(std::source_location loc = std::source_location::current());

    explicit Transfer(detail::TransferState* state) : state_(state) {}

   private:
    detail::TransferState* state_ = nullptr;  // null: completed synchronously (fast mode)
};

Transfer copy(const TensorSlice& src, Block& dst, std::source_location loc = std::source_location::current());
Transfer copy(const Block& src, const TensorSlice& dst, std::source_location loc = std::source_location::current());
// Send a block to every destination of a pipe: blocks until each destination has posted a
// receive, then writes into their blocks.
Transfer copy(const Block& src, const SrcPipe& pipe, std::source_location loc = std::source_location::current());
// Post a receive into a reserved block; the transfer's wait() blocks until the sender wrote it.
Transfer copy(const DstPipe& pipe, Block& dst, std::source_location loc = std::source_location::current());

// Waits for several transfers at once.
class GroupTransfer {
   public:
    void add(Transfer transfer) { transfers_.push_back(std::move(transfer)); }
    void wait_all(std::source_location loc = std::source_location::current());

   private:
    std::vector<Transfer> transfers_;
};

}  // namespace ttl
