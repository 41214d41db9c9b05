#include "ttl/pipe.hpp"

#include <fmt/format.h>

#include "ttl/detail/state.hpp"

namespace ttl {

using namespace detail;

PipeNet::PipeNet(Operation& op, std::vector<Pipe> pipes, std::string name) {
    OperationState& st = op.state();
    auto net = std::make_unique<PipeNetState>();
    net->op = &st;
    net->name = name.empty() ? fmt::format("pipenet{}", st.pipe_nets.size()) : std::move(name);
    net->pipes = std::move(pipes);
    state_ = net.get();
    st.pipe_nets.push_back(std::move(net));
}

namespace {
Task& dm_task(const char* what) {
    Task& t = require_task(what, std::source_location::current());
    require_kind(t, true, what, t.last_call);
    return t;
}
}  // namespace

void PipeNet::if_src(const std::function<void(const SrcPipe&)>& fn) const {
    Task& t = dm_task("PipeNet::if_src");
    for (size_t i = 0; i < state_->pipes.size(); ++i)
        if (state_->pipes[i].src == t.node->coord) fn(SrcPipe{state_, static_cast<int>(i)});
}

void PipeNet::if_dst(const std::function<void(const DstPipe&)>& fn) const {
    Task& t = dm_task("PipeNet::if_dst");
    for (size_t i = 0; i < state_->pipes.size(); ++i)
        if (state_->pipes[i].dst.contains(t.node->coord)) fn(DstPipe{state_, static_cast<int>(i)});
}

bool PipeNet::is_src() const {
    Coord c = node();
    for (const Pipe& p : state_->pipes)
        if (p.src == c) return true;
    return false;
}

bool PipeNet::is_dst() const {
    Coord c = node();
    for (const Pipe& p : state_->pipes)
        if (p.dst.contains(c)) return true;
    return false;
}

NodeRange SrcPipe::dst() const { return net->pipes[static_cast<size_t>(index)].dst; }
Coord DstPipe::src() const { return net->pipes[static_cast<size_t>(index)].src; }

}  // namespace ttl
