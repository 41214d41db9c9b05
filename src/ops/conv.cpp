#include "ops/conv.hpp"

#include <cstring>
#include <vector>

#include "ops/detail.hpp"
#include "ops/simd_kernels.hpp"
#include "runtime/thread_pool.hpp"

namespace ttlm::ops {

using detail::fail;
using ttl::DType;
using ttl::Shape;
using ttl::Tensor;

namespace {

void check_conv(std::string_view op, const Tensor& x, const Tensor& weight, int64_t dilation, const Tensor& bias) {
    detail::check_float(op, "x", x);
    detail::check_float(op, "weight", weight);
    if (x.ndim() != 3) fail("{}: x {} must be 3-D [batch, time, channels]", op, x.describe());
    const int64_t channels = x.dim(2);
    const bool conv_layout = weight.ndim() == 3 && weight.dim(1) == 1;
    if (!(conv_layout || weight.ndim() == 2) || weight.dim(0) != channels || weight.dim(-1) < 1)
        fail("{}: weight {} does not match x {}: expected [{}, 1, K] or [{}, K] with K >= 1", op, weight.describe(),
             x.describe(), channels, channels);
    if (dilation < 1) fail("{}: dilation {} must be >= 1", op, dilation);
    if (bias.defined()) {
        detail::check_float(op, "bias", bias);
        if (bias.shape() != Shape{channels})
            fail("{}: bias {} does not match the {} channels of x {}", op, bias.describe(), channels, x.describe());
    }
}

void run_conv(Tensor& out, const Tensor& x, const Tensor& weight, int64_t dilation, const Tensor& bias) {
    const int64_t batch = x.dim(0), time = x.dim(1), channels = x.dim(2), taps = weight.dim(-1);
    // Taps laid out [K, C], so that each tap scales a whole time step with one vector multiply-add.
    const Tensor w = to_f32(weight);
    std::vector<float> taps_by_channel(taps * channels);
    for (int64_t c = 0; c < channels; ++c)
        for (int64_t k = 0; k < taps; ++k) taps_by_channel[k * channels + c] = w.data<float>()[c * taps + k];
    const Tensor bias_f32 = bias.defined() ? to_f32(bias) : Tensor();
    const Tensor x_f32 = to_f32(x);
    const float* src = x_f32.data<float>();

    detail::store_f32_result(out, [&](float* y) {
        runtime::parallel_for(
            batch * time,
            [&](int64_t begin, int64_t end) {
                for (int64_t row = begin; row < end; ++row) {
                    const int64_t b = row / time, t = row % time;
                    float* acc = y + row * channels;
                    if (bias.defined())
                        std::memcpy(acc, bias_f32.raw(), channels * sizeof(float));
                    else
                        std::memset(acc, 0, channels * sizeof(float));
                    for (int64_t k = 0; k < taps; ++k) {
                        const int64_t source_t = t - (taps - 1 - k) * dilation;
                        if (source_t < 0) continue;
                        simd::multiply_accumulate(taps_by_channel.data() + k * channels,
                                                  src + (b * time + source_t) * channels, acc, channels);
                    }
                }
            },
            detail::row_grain(channels * taps));
    });
}

}  // namespace

Tensor conv1d_depthwise_causal(const Tensor& x, const Tensor& weight, int64_t dilation, const Tensor& bias) {
    check_conv("conv1d_depthwise_causal", x, weight, dilation, bias);
    Tensor out = Tensor::empty(x.shape(), x.dtype());
    run_conv(out, x, weight, dilation, bias);
    return out;
}

void conv1d_depthwise_causal_into(Tensor& out, const Tensor& x, const Tensor& weight, int64_t dilation,
                                  const Tensor& bias) {
    check_conv("conv1d_depthwise_causal_into", x, weight, dilation, bias);
    detail::check_out("conv1d_depthwise_causal_into", out, x.shape(), {DType::F32, DType::BF16});
    if (out.raw() == x.raw() && out.numel() > 0)
        fail("conv1d_depthwise_causal_into: out must not be x (each output reads earlier time steps of x)");
    run_conv(out, x, weight, dilation, bias);
}

}  // namespace ttlm::ops
