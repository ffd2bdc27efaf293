// The softmax, fused softmax cross-entropy and pooling kernels (kernels/cuda/softmax.cu,
// softmax_xent.cu, pooling.cu) run on the host emulation of CUDA and compared with the double
// references of tests/reference.h. Outputs start as NaN, so an element a kernel never writes
// fails; buffers end where the data ends, so an overrun is an AddressSanitizer report.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <random>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include "cuda_emulation/emulated_case.h"
#include "kernels/cuda/pooling.cuh"
#include "kernels/cuda/softmax.cuh"
#include "kernels/cuda/softmax_xent.cuh"

using namespace rf;
using test::DeviceBuffer;
using test::random_floats;
using test::to_bf16;
using test::to_double;
using test::widened;

namespace {

// One rounding to bf16 is at most half a unit in the 8th significant bit: 2^-8 of the value.
constexpr double kBf16Rounding = 1.0 / 256;

// max over elements of |got - want| / (rel * |want| + floor * max |want|): at most 1 when every
// element is within `rel` of its reference or within `floor` of the tensor's largest value (the
// allowance for float sums that cancel, which no relative bound covers). NaN is infinitely off.
double allowance_used(const std::vector<float>& got, const ref::Vec& want, double rel,
                      double floor) {
  REQUIRE(got.size() == want.size());
  double scale = 0;
  for (double v : want) scale = std::max(scale, std::abs(v));
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::abs(double(got[i]) - want[i]);
    if (std::isnan(err)) return INFINITY;
    if (err > 0) worst = std::max(worst, err / (rel * std::abs(want[i]) + floor * scale));
  }
  return worst;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

template <class T>
T nan_of() {
  if constexpr (std::is_same_v<T, BF16>) return float_to_bf16(NAN);
  else return NAN;
}

// An output buffer that starts as NaN.
template <class T>
DeviceBuffer<T> nan_buffer(size_t n, size_t misalign = 0) {
  DeviceBuffer<T> b(n, misalign);
  std::fill(b.data(), b.data() + n, nan_of<T>());
  return b;
}

template <class T>
DeviceBuffer<T> device_copy(const std::vector<T>& v, size_t misalign = 0) {
  DeviceBuffer<T> b(v.size(), misalign);
  b.assign(v);
  return b;
}

// ---- softmax ------------------------------------------------------------------------------------

// [-4, 4] logits shifted by -100, 0 or +100 by row: exp(104) overflows float, so a kernel that
// did not subtract its row's maximum would give infinities or NaNs.
std::vector<float> shifted_logits(int64_t rows, int cols, uint32_t seed) {
  std::vector<float> x = random_floats(size_t(rows * cols), seed, -4.f, 4.f);
  for (int64_t r = 0; r < rows; ++r)
    for (int j = 0; j < cols; ++j) x[size_t(r * cols + j)] += 100.f * float(r % 3 - 1);
  return x;
}

constexpr int kSoftmaxCols[] = {1, 10, 33, 1000, 2500};
// One warp per row, eight per block: two blocks, the second one mostly idle.
constexpr int64_t kSoftmaxRows = 9;
// Each element is expf of (x - max - log sum), whose float rounding is relative to its size (up
// to ~16 here), plus the rounding of sums of up to 2500 terms: a few 1e-6 at worst. A wrong row,
// lane or reduction is off by O(1).
constexpr double kSoftmaxRel = 1e-5;

}  // namespace

TEST_CASE("cuda emulated softmax_forward: 1 to 2500 columns match the double reference, in place "
          "too") {
  const int64_t rows = kSoftmaxRows;
  for (const int cols : kSoftmaxCols) {
    CAPTURE(cols);
    const std::vector<float> x = shifted_logits(rows, cols, 11 + uint32_t(cols));
    const DeviceBuffer<float> dev_x = device_copy(x);
    DeviceBuffer<float> y = nan_buffer<float>(x.size());
    gpu::softmax_forward(rows, cols, dev_x.data(), y.data(), nullptr);
    const double used = allowance_used(
        y.to_vector(), ref::softmax_forward(rows, cols, to_double(x)), kSoftmaxRel, 0);
    CHECK_MESSAGE(used <= 1, "error " << used << " x " << kSoftmaxRel);

    DeviceBuffer<float> in_place = device_copy(x);
    gpu::softmax_forward(rows, cols, in_place.data(), in_place.data(), nullptr);
    CHECK(same_bits(in_place.to_vector(), y.to_vector()));
  }
}

TEST_CASE("cuda emulated softmax_backward: 1 to 2500 columns match the double reference, dx "
          "aliasing y or dy too") {
  const int64_t rows = kSoftmaxRows;
  for (const int cols : kSoftmaxCols) {
    CAPTURE(cols);
    const std::vector<float> x = shifted_logits(rows, cols, 21 + uint32_t(cols));
    const ref::Vec y_exact = ref::softmax_forward(rows, cols, to_double(x));
    const std::vector<float> y(y_exact.begin(), y_exact.end());
    const std::vector<float> dy = random_floats(y.size(), 31 + uint32_t(cols));
    const DeviceBuffer<float> dev_y = device_copy(y), dev_dy = device_copy(dy);
    DeviceBuffer<float> dx = nan_buffer<float>(y.size());
    gpu::softmax_backward(rows, cols, dev_y.data(), dev_dy.data(), dx.data(), nullptr);
    // As the forward, plus y's own float rounding; dy - sum(dy * y) cancels where dy is near the
    // row's mean, hence the floor of 1e-6 of the largest gradient.
    const double used =
        allowance_used(dx.to_vector(), ref::softmax_backward(rows, cols, to_double(x),
                                                             to_double(dy)),
                       kSoftmaxRel, 1e-6);
    CHECK_MESSAGE(used <= 1, "error " << used << " x (" << kSoftmaxRel << ", 1e-6)");

    DeviceBuffer<float> over_y = device_copy(y);
    gpu::softmax_backward(rows, cols, over_y.data(), dev_dy.data(), over_y.data(), nullptr);
    CHECK(same_bits(over_y.to_vector(), dx.to_vector()));
    DeviceBuffer<float> over_dy = device_copy(dy);
    gpu::softmax_backward(rows, cols, dev_y.data(), over_dy.data(), over_dy.data(), nullptr);
    CHECK(same_bits(over_dy.to_vector(), dx.to_vector()));
  }
}

namespace {

// ---- softmax_xent -------------------------------------------------------------------------------

// Row r's targets: soft (mass 1) when r % 3 == 0, one-hot when 1, mass 0.5 when 2 (label mixing
// can leave mass below 1, which the gradient's sum(t) term is for).
std::vector<float> xent_targets(int64_t rows, int cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  std::vector<float> t(size_t(rows * cols), 0.f);
  for (int64_t r = 0; r < rows; ++r) {
    float* row = t.data() + r * cols;
    if (r % 3 == 1) {
      row[rng() % unsigned(cols)] = 1.f;
      continue;
    }
    float sum = 0.f;
    for (int j = 0; j < cols; ++j) sum += row[j] = u(rng);
    const float mass = r % 3 == 0 ? 1.f : 0.5f;
    for (int j = 0; j < cols; ++j) row[j] = row[j] / sum * mass;
  }
  return t;
}

struct XentOut {
  float loss;
  std::vector<float> dlogits;  // empty without dlogits
};

// One softmax_xent call on device copies of logits and targets starting `misalign` floats past a
// 64-byte boundary; dlogits at `dlogits_misalign`, or null without one. Unless given one, the
// scratch is exactly what softmax_xent_scratch_bytes asks for and starts as NaN: a partial that no
// block writes poisons the loss, and one written past the end is an AddressSanitizer report.
XentOut run_xent(int64_t rows, int cols, const std::vector<float>& logits,
                 const std::vector<float>& targets, size_t misalign,
                 std::optional<size_t> dlogits_misalign, DeviceBuffer<float>* scratch = nullptr) {
  const DeviceBuffer<float> x = device_copy(logits, misalign), t = device_copy(targets, misalign);
  const size_t scratch_bytes = gpu::softmax_xent_scratch_bytes(rows, cols);
  REQUIRE(scratch_bytes % sizeof(float) == 0);
  DeviceBuffer<float> own_scratch = nan_buffer<float>(scratch ? 0 : scratch_bytes / sizeof(float));
  if (scratch) REQUIRE(scratch->size() * sizeof(float) >= scratch_bytes);
  DeviceBuffer<float> loss = nan_buffer<float>(1);
  std::optional<DeviceBuffer<float>> dx;
  if (dlogits_misalign) dx.emplace(nan_buffer<float>(logits.size(), *dlogits_misalign));
  gpu::softmax_xent(rows, cols, x.data(), t.data(), loss.data(), dx ? dx->data() : nullptr,
                    (scratch ? scratch : &own_scratch)->data(), nullptr);
  return {loss[0], dx ? dx->to_vector() : std::vector<float>{}};
}

// The loss is a mean of float row losses (each a sum of up to 2500 float products whose log terms
// reach ~20), added in float within a block and in double after: under 1e-7 relative here. A
// skipped row or partial moves it by ~1 / (rows or blocks), at least 3e-3 here.
constexpr double kLossRel = 1e-6;
// dlogits = (softmax * sum(t) - t) / rows: the softmax's error (kSoftmaxRel), and a floor for the
// cancellation where softmax * sum(t) is close to t.
constexpr double kDlogitsRel = 1e-5, kDlogitsFloor = 1e-6;

void check_xent(int64_t rows, int cols, const std::vector<float>& logits,
                const std::vector<float>& targets, const XentOut& got) {
  ref::Vec dlogits;
  const double want = ref::softmax_xent(rows, cols, to_double(logits), to_double(targets),
                                        got.dlogits.empty() ? nullptr : &dlogits);
  // Absolute below 1: one class gives a loss of exactly 0.
  const double loss_error = std::abs(double(got.loss) - want) / std::max(1.0, std::abs(want));
  CHECK_MESSAGE(loss_error <= kLossRel, "loss " << got.loss << " want " << want);
  if (got.dlogits.empty()) return;
  const double used = allowance_used(got.dlogits, dlogits, kDlogitsRel, kDlogitsFloor);
  CHECK_MESSAGE(used <= 1, "dlogits error " << used << " x (" << kDlogitsRel << ", "
                                            << kDlogitsFloor << ")");
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

struct XentShape {
  int64_t rows;
  int cols;
  size_t misalign;   // of logits, targets and dlogits: > 0 takes the scalar loads (V = 1)
  const char* path;  // what softmax_xent.cu launches (G lanes per row, K loads of V floats)
};

// Every instantiation of the register kernel and the long-row kernel, each over two blocks, the
// second partly empty (lanes that own no row still join the shuffles).
constexpr XentShape kXentShapes[] = {
    {261, 4, 0, "register G=1 K=2 V=4"},
    {133, 12, 0, "register G=2 K=2 V=4"},
    {69, 32, 0, "register G=4 K=2 V=4"},
    {37, 64, 0, "register G=8 K=2 V=4"},
    {21, 128, 0, "register G=16 K=2 V=4"},
    {13, 256, 0, "register G=32 K=2 V=4"},
    {13, 512, 0, "register G=32 K=4 V=4"},
    {13, 1000, 0, "register G=32 K=8 V=4 (1000 classes)"},
    {13, 1024, 0, "register G=32 K=8 V=4 (the longest register row)"},
    {261, 1, 0, "register G=1 K=8 V=1"},
    {250, 10, 0, "register G=2 K=8 V=1 (cols % 4 != 0: the training shape)"},
    {69, 20, 0, "register G=4 K=8 V=1"},
    {69, 32, 1, "register G=4 K=8 V=1 (misaligned)"},
    {37, 33, 0, "register G=8 K=8 V=1"},
    {37, 64, 2, "register G=8 K=8 V=1 (misaligned)"},
    {21, 100, 0, "register G=16 K=8 V=1"},
    {13, 129, 0, "register G=32 K=8 V=1"},
    {13, 300, 0, "register G=32 K=16 V=1"},
    {13, 1000, 1, "register G=32 K=32 V=1 (1000 classes, misaligned)"},
    {13, 1023, 0, "register G=32 K=32 V=1"},
    {13, 1025, 0, "long row (the shortest)"},
    {13, 2500, 3, "long row (misaligned)"},
};

}  // namespace

TEST_CASE("cuda emulated softmax_xent: every register-kernel shape and the long-row kernel match "
          "the double reference") {
  for (const XentShape& s : kXentShapes) {
    INFO(s.path);
    CAPTURE(s.rows);
    CAPTURE(s.cols);
    const std::vector<float> x = shifted_logits(s.rows, s.cols, 41 + uint32_t(s.cols));
    const std::vector<float> t = xent_targets(s.rows, s.cols, 43 + uint32_t(s.cols));
    check_xent(s.rows, s.cols, x, t, run_xent(s.rows, s.cols, x, t, s.misalign, s.misalign));
  }
}

TEST_CASE("cuda emulated softmax_xent: without dlogits, the same loss bits; a misaligned dlogits "
          "alone takes the scalar path") {
  // The register kernel with float4 and with scalar loads, and the long-row kernel: without
  // dlogits each takes the same path, so computes the same loss.
  for (const auto& [rows, cols] : {std::pair<int64_t, int>{13, 1000}, {250, 10}, {13, 2500}}) {
    CAPTURE(rows);
    CAPTURE(cols);
    const std::vector<float> x = shifted_logits(rows, cols, 51 + uint32_t(cols));
    const std::vector<float> t = xent_targets(rows, cols, 53 + uint32_t(cols));
    const XentOut with_grad = run_xent(rows, cols, x, t, 0, 0);
    const XentOut without = run_xent(rows, cols, x, t, 0, std::nullopt);
    check_xent(rows, cols, x, t, without);
    CHECK(same_bits(without.loss, with_grad.loss));
    // Aligned logits and targets, 1000 classes: float4 loads (G=32 K=8) without dlogits, scalar
    // ones (K=32) with a misaligned dlogits.
    if (cols == 1000) check_xent(rows, cols, x, t, run_xent(rows, cols, x, t, 0, 1));
  }
}

TEST_CASE("cuda emulated softmax_xent: the finalize kernel adds more partials than it has "
          "threads") {
  // 4 float4 classes: 256 rows per block, 260 blocks, so threads 0-3 of the 256-thread finalize
  // each add two partials.
  const int64_t rows = 260 * 256 - 17;
  const int cols = 4;
  const std::vector<float> x = shifted_logits(rows, cols, 61);
  const std::vector<float> t = xent_targets(rows, cols, 63);
  check_xent(rows, cols, x, t, run_xent(rows, cols, x, t, 0, 0));
}

TEST_CASE("cuda emulated softmax_xent: identical inputs give identical loss bits, whatever the "
          "scratch held") {
  const int64_t rows = 250;
  const int cols = 10;
  const std::vector<float> x = shifted_logits(rows, cols, 71);
  const std::vector<float> t = xent_targets(rows, cols, 73);
  // One scratch for every call, as the engine keeps it: the call between leaves other partials.
  DeviceBuffer<float> scratch = nan_buffer<float>(gpu::softmax_xent_scratch_bytes(rows, cols) /
                                                  sizeof(float));
  const XentOut first = run_xent(rows, cols, x, t, 0, 0, &scratch);
  const std::vector<float> other = shifted_logits(rows, cols, 75);
  CHECK_FALSE(same_bits(run_xent(rows, cols, other, t, 0, 0, &scratch).loss, first.loss));
  const XentOut again = run_xent(rows, cols, x, t, 0, 0, &scratch);
  CHECK(same_bits(again.loss, first.loss));
  CHECK(same_bits(again.dlogits, first.dlogits));
}

TEST_CASE("cuda emulated softmax_xent: an empty input is an error, not a launch") {
  float loss = 0, scratch = 0;
  CHECK_THROWS_AS(gpu::softmax_xent(0, 10, nullptr, nullptr, &loss, nullptr, &scratch, nullptr),
                  std::invalid_argument);
  CHECK_THROWS_AS(gpu::softmax_xent(3, 0, nullptr, nullptr, &loss, nullptr, &scratch, nullptr),
                  std::invalid_argument);
}

namespace {

// ---- pooling ------------------------------------------------------------------------------------

// Values from five levels, mostly negative: most windows hold tied maxima, and windows at a padded
// border are often all negative, where padding taken as 0 instead of -inf would win. All are
// bf16 numbers.
std::vector<float> tied_values(size_t n, uint32_t seed) {
  constexpr float kLevels[] = {-3.f, -2.f, -1.f, -0.5f, 0.5f};
  std::mt19937 rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = kLevels[rng() % 5];
  return v;
}

// Rounds to bf16 for T = BF16, leaves floats alone: what the reference must see.
template <class T>
std::vector<T> stored(const std::vector<float>& v) {
  if constexpr (std::is_same_v<T, BF16>) return to_bf16(v);
  else return v;
}

template <class T>
std::vector<float> loaded(const std::vector<T>& v) {
  if constexpr (std::is_same_v<T, BF16>) return widened(v);
  else return v;
}

constexpr PoolGeom kPoolGeoms[] = {
    {2, 7, 7, 3, 3, 2, 1},  // the stem's 3x3 / 2 with padding: overlapping windows
    {1, 6, 5, 4, 3, 1, 1},  // stride 1: an input under up to 9 windows
    {2, 5, 6, 4, 2, 2, 0},  // disjoint windows; the last row is under none
    {1, 7, 8, 2, 2, 1, 0},  // stride 1, no padding
    {1, 2, 2, 1, 3, 2, 1},  // one window larger than the image
};

// The backward's float sums of at most 9 gradients: a few float roundings of the largest.
constexpr double kPoolSumFloor = 1e-6;

template <class T>
void check_maxpool() {
  constexpr bool bf16 = std::is_same_v<T, BF16>;
  // A bf16 gradient is its float sum rounded once.
  const double rel = bf16 ? kBf16Rounding : 0.0;
  for (const PoolGeom& g : kPoolGeoms)
    for (const bool ties : {true, false}) {
      CAPTURE(g.h);
      CAPTURE(g.w);
      CAPTURE(g.window);
      CAPTURE(g.stride);
      CAPTURE(g.pad);
      CAPTURE(ties);
      const uint32_t seed = uint32_t(g.h * 100 + g.window * 10 + g.stride);
      const std::vector<T> x = stored<T>(ties ? tied_values(size_t(g.x_size()), seed)
                                              : random_floats(size_t(g.x_size()), seed));
      const std::vector<T> dy = stored<T>(random_floats(size_t(g.y_size()), seed + 1));
      const ref::Vec x_ref = to_double(loaded(x)), dy_ref = to_double(loaded(dy));
      const DeviceBuffer<T> dev_x = device_copy(x), dev_dy = device_copy(dy);

      DeviceBuffer<T> y = nan_buffer<T>(size_t(g.y_size()));
      gpu::maxpool_forward(g, dev_x.data(), y.data(), nullptr);
      // A maximum is one of the inputs: exact, in bf16 too.
      CHECK(to_double(loaded(y.to_vector())) == ref::maxpool_forward(g, x_ref));

      DeviceBuffer<T> dx = nan_buffer<T>(size_t(g.x_size()));
      gpu::maxpool_backward(g, dev_x.data(), dev_dy.data(), dx.data(), nullptr);
      const double used = allowance_used(loaded(dx.to_vector()),
                                         ref::maxpool_backward(g, x_ref, dy_ref), rel,
                                         kPoolSumFloor);
      CHECK_MESSAGE(used <= 1, "dx error " << used << " x (" << rel << ", " << kPoolSumFloor
                                           << ")");
    }
}

}  // namespace

TEST_CASE("cuda emulated maxpool_forward/backward (float): padded windows, stride 1 and 2, a "
          "tie's gradient to the first maximum") {
  check_maxpool<float>();
}

TEST_CASE("cuda emulated maxpool_forward/backward (bf16): exact maxima, gradients within one "
          "bf16 rounding") {
  check_maxpool<BF16>();
}

namespace {

struct AvgShape {
  int n, hw, c;
};
constexpr AvgShape kAvgShapes[] = {{2, 15, 7}, {1, 1, 4}, {3, 64, 33}};

template <class T>
void check_global_avgpool() {
  constexpr bool bf16 = std::is_same_v<T, BF16>;
  for (const AvgShape& s : kAvgShapes) {
    CAPTURE(s.n);
    CAPTURE(s.hw);
    CAPTURE(s.c);
    const size_t x_size = size_t(s.n) * s.hw * s.c, y_size = size_t(s.n) * s.c;
    const uint32_t seed = uint32_t(s.hw * 100 + s.c);
    const std::vector<T> x = stored<T>(random_floats(x_size, seed));
    const std::vector<float> dy = random_floats(y_size, seed + 1);  // float32 on both sides

    const DeviceBuffer<T> dev_x = device_copy(x);
    DeviceBuffer<float> y = nan_buffer<float>(y_size);
    gpu::global_avgpool_forward(s.n, s.hw, s.c, dev_x.data(), y.data(), nullptr);
    // A float sum of up to 64 terms, then a division (float32 for bf16 inputs too): 1e-6
    // relative, or 1e-6 of the largest mean where the sum cancels; 8x the worst seen.
    const double fwd = allowance_used(
        y.to_vector(), ref::global_avgpool_forward(s.n, s.hw, s.c, to_double(loaded(x))), 1e-6,
        1e-6);
    CHECK_MESSAGE(fwd <= 1, "y error " << fwd);

    const DeviceBuffer<float> dev_dy = device_copy(dy);
    DeviceBuffer<T> dx = nan_buffer<T>(x_size);
    gpu::global_avgpool_backward(s.n, s.hw, s.c, dev_dy.data(), dx.data(), nullptr);
    // dy * (1 / hw): two float roundings, then one more to bf16 for a bf16 dx.
    const double rel = 0x1p-22 + (bf16 ? kBf16Rounding : 0.0);
    const double bwd = allowance_used(
        loaded(dx.to_vector()), ref::global_avgpool_backward(s.n, s.hw, s.c, to_double(dy)), rel,
        0);
    CHECK_MESSAGE(bwd <= 1, "dx error " << bwd);
  }
}

}  // namespace

TEST_CASE("cuda emulated global_avgpool_forward/backward (float): means and their spread "
          "gradient") {
  check_global_avgpool<float>();
}

TEST_CASE("cuda emulated global_avgpool_forward/backward (bf16): float32 means of bf16 inputs, "
          "bf16 gradients within one rounding") {
  check_global_avgpool<BF16>();
}
