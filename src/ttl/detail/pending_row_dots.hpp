// Row dots that reduce_sum left for later (fast mode; block_math.cpp). A kernel that writes
// independent reductions over the same blocks one after the other (sum k*k, sum q*q, sum k*w*q)
// gets them as one pass over the rows, each row read from memory once, instead of a pass each.
// The runtime settles them before anything could change what they read or want their values: an
// evaluation, a store, a buffer's reserve, wait, push or pop, a copy. Per thread: a kernel runs on
// one, and every switch to another kernel happens inside a reserve, wait or transfer wait.
#pragma once

namespace ttl::detail {

inline thread_local int t_row_dots_pending = 0;
void settle_row_dots_now();
inline void settle_row_dots() {
    if (t_row_dots_pending) [[unlikely]]
        settle_row_dots_now();
}
void drop_row_dots();  // the kernel ended: values it never used are not computed

}  // namespace ttl::detail
