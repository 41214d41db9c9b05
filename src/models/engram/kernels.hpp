// Engram's fused ttl kernels (the seed's engram_gate_kernel and pipe_conv_kernel, done in one
// streaming pass each). Tensors are 2-D, token-major: one row per token (batch folded in).
#pragma once

#include <vector>

#include "ttl/ttl.hpp"

namespace ttlm::engram {

struct GatingInputs {
    const ttl::Tensor* kv;       // [N, (hc + 1) * H]: the stacked projection, keys of branches 0..hc-1, then value
    const ttl::Tensor* hidden;   // [N, hc * H]: hidden states, branch-major within a token
    // norm1[h].weight * norm2[h].weight, one [1, H] row per branch: the dot of two RMS-normed rows
    // is rk * rq * sum(k * q * w1 * w2), so one pass over k and q gives all three row sums.
    std::vector<ttl::Tensor> key_query_weight;
    int branches = 4;
    int hidden_size = 1024;      // H as laid out: a multiple of 32 (zero-padded channels past norm_size)
    int norm_size = 0;           // the model's H, for the means and 1/sqrt(H) (0: hidden_size)
    float eps = 1.1920929e-07f;  // torch.finfo(float32).eps, the reference's RMSNorm default
    float conv_norm_eps = 1e-5f; // the ShortConv's RMSNorm
};

// gated[:, h*H:(h+1)*H] = sigmoid(signsqrt(<rmsnorm(k_h) w1, rmsnorm(q_h) w2> / sqrt(H))) * value.
// conv_inverse_rms[h] ([N, 1], f32): 1 / sqrt(mean(gated_h^2) + conv_norm_eps), the statistics of
// the conv's RMSNorm, computed here as g^2 mean(value^2) while the value streams by, so that the
// conv kernel reads gated once. gates (optional): one [N, 1] tensor per branch. Grid auto: nodes
// share the token tiles.
ttl::RunReport gating_kernel(const GatingInputs& in, ttl::Tensor& gated, std::vector<ttl::Tensor>& conv_inverse_rms,
                             std::vector<ttl::Tensor>* gates, const ttl::ExecOptions& options = ttl::default_options());

struct ConvInputs {
    const ttl::Tensor* gated;          // [B * Lp, hc * H], Lp a multiple of 32 (sequences padded at the end)
    std::vector<ttl::Tensor> inverse_rms;  // per branch [B * Lp, 1]: the RMSNorm's 1 / rms (gating_kernel's)
    int batch = 1;
    int seq_tiles = 1;                 // Lp / 32
    // Conv weight times the RMSNorm weight of its channel (short_conv.norms[h].weight), tap-major:
    // taps[k] is [1, hc * H]. The norm's weight scales a channel, the conv is per channel, so
    // folding it into the taps leaves the kernel one multiply less per element.
    std::vector<ttl::Tensor> taps;
    int branches = 4;
    int hidden_size = 1024;            // as laid out, a multiple of 32
    int dilation = 3;
    int nodes_per_sequence = 0;        // 0: one per worker (a cross-worker boundary costs more than it shares)
};

// output = gated + SiLU(causal depthwise conv(RMSNorm(gated))), per branch, the RMSNorm being
// gated * inverse_rms * norm_weight (one read of gated; norm_weight is in the taps). Nodes (x, b) split
// sequence b; each node sends the normalised last tile row of its range (the conv's boundary
// context: (K-1)*dilation rows) to node (x+1, b) over a pipe. conv (optional) = the SiLU term.
ttl::RunReport conv_kernel(const ConvInputs& in, ttl::Tensor& output, ttl::Tensor* conv,
                           const ttl::ExecOptions& options = ttl::default_options());

}  // namespace ttlm::engram
