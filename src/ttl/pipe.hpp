// Pipes between nodes. A PipeNet is a set of pipes, each from one source node to one node or a
// range of nodes (multicast). In a data-movement kernel, net.if_src(fn) calls fn once per pipe
// that starts at this node, net.if_dst(fn) once per pipe that reaches it; ttl::copy on the pipe
// sends or receives. Semantics are the chip's rendezvous: a receive posts into a reserved block,
// a send waits until every destination has posted, then writes straight into their blocks.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "ttl/operation.hpp"
#include "ttl/tensor.hpp"

namespace ttl {

namespace detail {
struct PipeNetState;
}

// Destination nodes: each coordinate is one index or a [begin, end) range, as TT-Lang's
// `(x, slice(1, grid_y))`.
struct NodeRange {
    TileIndex x{0}, y{0};
    NodeRange(Coord c) : x(c.x), y(c.y) {}  // NOLINT: a single node is a range
    NodeRange(TileIndex x_, TileIndex y_) : x(x_), y(y_) {}
    bool contains(Coord c) const { return c.x >= x.begin && c.x < x.end && c.y >= y.begin && c.y < y.end; }
};

struct Pipe {
    Coord src;
    NodeRange dst;
};

class SrcPipe {
   public:
    NodeRange dst() const;
    detail::PipeNetState* net = nullptr;
    int index = 0;
};

class DstPipe {
   public:
    Coord src() const;
    detail::PipeNetState* net = nullptr;
    int index = 0;
};

class PipeNet {
   public:
    PipeNet(Operation& op, std::vector<Pipe> pipes, std::string name = {});
    void if_src(const std::function<void(const SrcPipe&)>& fn) const;
    void if_dst(const std::function<void(const DstPipe&)>& fn) const;
    bool is_src() const;
    bool is_dst() const;
    bool is_active() const { return is_src() || is_dst(); }

   private:
    detail::PipeNetState* state_;
};

}  // namespace ttl
