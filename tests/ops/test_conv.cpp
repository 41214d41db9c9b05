#include <gtest/gtest.h>

#include <cmath>

#include <fmt/format.h>

#include "ops/ops.hpp"
#include "ops_test_util.hpp"

namespace ttlm::ops::test {
namespace {

using ttl::DType;
using ttl::Shape;
using ttl::Tensor;

// nn.Conv1d(C, C, K, groups=C, dilation=d, padding=(K-1)*d) on x transposed to [B, C, T], truncated to
// the first T outputs, written literally: zero-pad both ends, cross-correlate, keep the first T.
// Returns the outputs in [B, T, C] order with the magnitude sum(|terms|) of each.
struct Conv {
    std::vector<double> value, magnitude;
};

Conv reference_conv(const std::vector<double>& x, const std::vector<double>& w, const std::vector<double>& bias,
                    int64_t B, int64_t T, int64_t C, int64_t K, int64_t d) {
    const int64_t pad = (K - 1) * d, padded = T + 2 * pad;
    Conv out{std::vector<double>(B * T * C), std::vector<double>(B * T * C)};
    for (int64_t b = 0; b < B; ++b)
        for (int64_t c = 0; c < C; ++c) {
            std::vector<double> signal(padded, 0.0);
            for (int64_t t = 0; t < T; ++t) signal[pad + t] = x[(b * T + t) * C + c];
            for (int64_t t = 0; t < T; ++t) {
                double sum = bias.empty() ? 0.0 : bias[c], magnitude = std::abs(sum);
                for (int64_t k = 0; k < K; ++k) {
                    sum += w[c * K + k] * signal[t + k * d];
                    magnitude += std::abs(w[c * K + k] * signal[t + k * d]);
                }
                out.value[(b * T + t) * C + c] = sum;
                out.magnitude[(b * T + t) * C + c] = magnitude;
            }
        }
    return out;
}

TEST(Conv1dDepthwiseCausal, MatchesPaddedConv1dTruncated) {
    struct Case {
        int64_t B, T, C, K, dilation;
        bool bias, conv_layout;
    };
    for (const Case& c :
         {Case{2, 37, 45, 4, 3, false, true}, Case{1, 5, 7, 4, 3, true, false}, Case{3, 19, 33, 1, 1, true, true},
          Case{2, 29, 16, 3, 1, false, false}, Case{1, 1, 5, 4, 2, false, true}}) {
        SCOPED_TRACE(fmt::format("B={} T={} C={} K={} d={}", c.B, c.T, c.C, c.K, c.dilation));
        const Tensor x = random_tensor({c.B, c.T, c.C}, 1);
        const Tensor w = random_tensor(c.conv_layout ? Shape{c.C, 1, c.K} : Shape{c.C, c.K}, 2);
        const Tensor bias = c.bias ? random_tensor({c.C}, 3) : Tensor();
        const Conv want = reference_conv(values(x), values(w), c.bias ? values(bias) : std::vector<double>{}, c.B, c.T,
                                         c.C, c.K, c.dilation);
        const Tensor y = conv1d_depthwise_causal(x, w, c.dilation, bias);
        ASSERT_EQ(y.shape(), x.shape());
        EXPECT_LE(max_relative_error(y, want.value, want.magnitude), 1e-6);
    }
}

TEST(Conv1dDepthwiseCausal, Bf16InputRoundsOnceAndIntoWorks) {
    const Tensor x = random_tensor({2, 11, 9}, 4, -1.0f, 1.0f, DType::BF16);
    const Tensor w = random_tensor({9, 1, 4}, 5, -1.0f, 1.0f, DType::BF16);
    const Tensor y = conv1d_depthwise_causal(x, w, 3);
    EXPECT_EQ(y.dtype(), DType::BF16);
    const Conv want = reference_conv(values(x), values(w), {}, 2, 11, 9, 4, 3);
    // f32 accumulation (1e-6 of the magnitude) and one rounding to bf16 (2^-8 of the value).
    const std::vector<double> got = values(y);
    for (size_t i = 0; i < got.size(); ++i)
        EXPECT_LE(std::abs(got[i] - want.value[i]), std::ldexp(std::abs(want.value[i]), -8) + 1e-6 * want.magnitude[i]);

    Tensor out({2, 11, 9});
    conv1d_depthwise_causal_into(out, x, w, 3);
    EXPECT_LE(max_relative_error(out, want.value, want.magnitude), 1e-6);
}

TEST(Conv1dDepthwiseCausal, ErrorsNameOpArgumentAndShapes) {
    const Tensor x({2, 5, 8});
    EXPECT_INVALID_ARGUMENT(conv1d_depthwise_causal(Tensor({5, 8}), Tensor({8, 4})),
                            "conv1d_depthwise_causal: x f32[5, 8] must be 3-D [batch, time, channels]");
    EXPECT_INVALID_ARGUMENT(
        conv1d_depthwise_causal(x, Tensor({7, 1, 4})),
        "conv1d_depthwise_causal: weight f32[7, 1, 4] does not match x f32[2, 5, 8]: expected [8, 1, K] "
        "or [8, K]");
    EXPECT_INVALID_ARGUMENT(conv1d_depthwise_causal(x, Tensor({8, 2, 4})), "weight f32[8, 2, 4] does not match");
    EXPECT_INVALID_ARGUMENT(conv1d_depthwise_causal(x, Tensor({8, 4}), 0),
                            "conv1d_depthwise_causal: dilation 0 must be >= 1");
    EXPECT_INVALID_ARGUMENT(conv1d_depthwise_causal(x, Tensor({8, 4}), 1, Tensor({4})),
                            "conv1d_depthwise_causal: bias f32[4] does not match the 8 channels of x f32[2, 5, 8]");
    Tensor in_place = x;
    EXPECT_INVALID_ARGUMENT(conv1d_depthwise_causal_into(in_place, x, Tensor({8, 4})), "out must not be x");
}

TEST(Conv1dDepthwiseCausal, SameBitsOnOneAndTwoThreads) {
    const Tensor x = random_tensor({2, 300, 257}, 6), w = random_tensor({257, 1, 4}, 7);
    auto [one, two] = on_one_and_two_threads([&] { return conv1d_depthwise_causal(x, w, 3); });
    EXPECT_TRUE(same_bytes(one, two));
}

}  // namespace
}  // namespace ttlm::ops::test
