// The bf16 storage type (kernels/bfloat16.h) on hand-picked bit patterns, bf16 tensors (rounding
// on the way in, widening on the way out, dtype checks, views), the cast op, and the order of a
// bf16 convolution's two roundings, on the CPU. The ops themselves: the op table's bf16 cases.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "engine/ops.h"
#include "error_of.h"
#include "op_cases.h"

using namespace rf;
using namespace rf::test;

namespace {

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

uint16_t bf16_bits(uint32_t float_bits) { return float_to_bf16(from_bits(float_bits)).bits; }

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

// A float's upper 16 bits are the bf16 candidate below it (in magnitude); the lower 16 decide:
// 0x8000 is an exact tie, which goes to the even candidate.
TEST_CASE("float_to_bf16 rounds to nearest, ties to even") {
  CHECK(bf16_bits(0x3f800000) == 0x3f80);  // 1: exact
  CHECK(bf16_bits(0x3f807fff) == 0x3f80);  // just below a tie: down
  CHECK(bf16_bits(0x3f808000) == 0x3f80);  // 1 + 2^-8, a tie: down to the even 1
  CHECK(bf16_bits(0x3f808001) == 0x3f81);  // just above a tie: up
  CHECK(bf16_bits(0x3f818000) == 0x3f82);  // a tie above an odd candidate: up to the even one
  CHECK(bf16_bits(0xbf808000) == 0xbf80);  // negative ties go to even too
  CHECK(bf16_bits(0xbf818000) == 0xbf82);
  CHECK(bf16_bits(0x3fff8000) == 0x4000);  // 2 - 2^-8, a tie: the carry makes 2 (exponent + 1)
  CHECK(bf16_bits(0x3fffffff) == 0x4000);
  CHECK(bf16_bits(0x7f7f7fff) == 0x7f7f);  // the largest finite bf16 stays
  CHECK(bf16_bits(0x7f7f8000) == 0x7f80);  // a tie beyond it: infinity
  CHECK(bf16_bits(0x7f7fffff) == 0x7f80);  // the largest finite float: infinity
  CHECK(bf16_bits(0xff7fffff) == 0xff80);  // and its negative: -infinity
}

TEST_CASE("float_to_bf16 keeps zeros, infinities, NaNs and subnormals apart") {
  CHECK(bf16_bits(0x00000000) == 0x0000);
  CHECK(bf16_bits(0x80000000) == 0x8000);  // -0 keeps its sign
  CHECK(bf16_bits(0x7f800000) == 0x7f80);
  CHECK(bf16_bits(0xff800000) == 0xff80);
  // NaNs stay NaNs, quiet, with their sign, even one whose payload lies only in the low bits
  // (plain rounding would carry it into an infinity).
  for (const uint32_t nan : {0x7fc00000u, 0x7f800001u, 0xff800001u, 0x7fffffffu}) {
    CAPTURE(nan);
    const uint16_t b = bf16_bits(nan);
    CHECK(std::isnan(bf16_to_float(BF16{b})));
    CHECK((b & 0x0040) != 0);
    CHECK((b & 0x8000) == ((nan >> 16) & 0x8000));
  }
  // Subnormals round like any other value: bf16 has float's exponent range.
  CHECK(bf16_bits(0x00000001) == 0x0000);  // the smallest float: to zero
  CHECK(bf16_bits(0x00008000) == 0x0000);  // a tie: to the even 0
  CHECK(bf16_bits(0x00010000) == 0x0001);  // the smallest bf16 subnormal
  CHECK(bf16_bits(0x00018000) == 0x0002);  // a tie: up to the even one
  CHECK(bf16_bits(0x807fffff) == 0x8080);  // the largest (negative) subnormal: up to a normal
}

TEST_CASE("bf16_to_float widens exactly and round_to_bf16 is idempotent") {
  CHECK(bf16_to_float(BF16{0x3f80}) == 1.f);
  CHECK(bf16_to_float(BF16{0xc049}) == from_bits(0xc0490000));
  CHECK(bf16_to_float(BF16{0x0001}) == from_bits(0x00010000));
  CHECK(std::isinf(bf16_to_float(BF16{0xff80})));
  CHECK(std::signbit(bf16_to_float(BF16{0x8000})));
  for (const float v : {0.1f, -3.3f, 1e-30f, 123456.f}) {
    CAPTURE(v);
    const float r = round_to_bf16(v);
    CHECK(std::abs(r - v) <= std::abs(v) / 256);  // half an ulp: 2^-8 of the value at most
    CHECK(round_to_bf16(r) == r);
  }
}

TEST_CASE("bf16 tensors: from_host rounds, to_host widens, fill rounds") {
  const std::vector<float> v = {1.f + 0x1p-8f, 1.f + 3 * 0x1p-8f, 0.1f, -3.3f, 0.f, -1e30f};
  const Tensor t = Tensor::from_host(v, {2, 3}, Device::CPU, DType::BF16);
  CHECK(t.dtype() == DType::BF16);
  const std::vector<float> back = t.to_host();
  REQUIRE(back.size() == v.size());
  CHECK(back[0] == 1.f);
  CHECK(back[1] == 1.f + 0x1p-6f);
  for (size_t i = 0; i < v.size(); ++i) {
    CAPTURE(i);
    CHECK(back[i] == round_to_bf16(v[i]));
    CHECK(t.data_bf16()[i].bits == float_to_bf16(v[i]).bits);  // CPU memory: two bytes each
  }
  CHECK(Tensor::full({3}, 0.1f, Device::CPU, DType::BF16).to_host() ==
        std::vector<float>(3, round_to_bf16(0.1f)));
  CHECK(Tensor::zeros({2}, Device::CPU, DType::BF16).to_host() == std::vector<float>{0.f, 0.f});
}

TEST_CASE("bf16 tensors: element access and copies check the type and say which") {
  const Tensor b = Tensor::from_host({1, 2, 3, 4, 5, 6}, {2, 3}, Device::CPU, DType::BF16);
  const Tensor f = Tensor::from_host({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(contains(error_of([&] { b.data(); }),
                 "a bfloat16 tensor [2, 3] used where float32 is expected"));
  CHECK(contains(error_of([&] { f.data_bf16(); }),
                 "a float32 tensor [2, 3] used where bfloat16 is expected"));
  CHECK(contains(error_of([&] { f.copy_from(b); }),
                 "copy of a bfloat16 tensor into a float32 one"));
  CHECK(contains(error_of([&] { b.copy_from(f); }),
                 "copy of a float32 tensor into a bfloat16 one"));
}

TEST_CASE("bf16 tensors: clone, view and reshape keep the type; views count bf16 elements") {
  const Tensor t = Tensor::from_host({1, 2, 3, 4, 5, 6}, {2, 3}, Device::CPU, DType::BF16);
  const Tensor c = t.clone();
  CHECK(c.dtype() == DType::BF16);
  CHECK(!c.shares_storage(t));
  CHECK(c.to_host() == t.to_host());
  const Tensor v = t.view(2, {2, 2});
  CHECK(v.dtype() == DType::BF16);
  CHECK(v.shares_storage(t));
  CHECK(v.to_host() == std::vector<float>{3, 4, 5, 6});
  v.fill_(9.f);
  CHECK(t.to_host() == std::vector<float>{1, 2, 9, 9, 9, 9});
  const Tensor r = t.reshape({3, 2});
  CHECK(r.dtype() == DType::BF16);
  CHECK(r.to_host() == t.to_host());
  CHECK(t.to(Device::CPU).dtype() == DType::BF16);
}

TEST_CASE("cast: rounds to bf16, widens back, and returns each gradient in its input's type") {
  const std::vector<float> v = {1.f + 0x1p-8f, 0.1f, -3.3f, 2.f - 0x1p-8f};
  const std::vector<float> dy = {0.3f, -1.f - 3 * 0x1p-8f, 7.77f, 1e-3f};
  std::vector<float> rounded_v, rounded_dy;
  for (size_t i = 0; i < v.size(); ++i) {
    rounded_v.push_back(round_to_bf16(v[i]));
    rounded_dy.push_back(round_to_bf16(dy[i]));
  }

  SUBCASE("float32 -> bf16: the gradient comes back float32, rounded by the bf16 on the way") {
    Variable x(Tensor::from_host(v, {4}), true);
    const Variable b = cast(x, DType::BF16);
    CHECK(b.value().dtype() == DType::BF16);
    CHECK(b.value().to_host() == rounded_v);
    Variable y = cast(b, DType::F32);
    CHECK(y.value().dtype() == DType::F32);
    CHECK(y.value().to_host() == rounded_v);
    y.backward(Tensor::from_host(dy, {4}));
    CHECK(x.grad().dtype() == DType::F32);
    CHECK(x.grad().to_host() == rounded_dy);
  }
  SUBCASE("bf16 -> float32: the gradient comes back bf16") {
    Variable x(Tensor::from_host(v, {4}, Device::CPU, DType::BF16), true);
    Variable y = cast(x, DType::F32);
    CHECK(y.value().to_host() == rounded_v);
    y.backward(Tensor::from_host(dy, {4}));
    CHECK(x.grad().dtype() == DType::BF16);
    CHECK(x.grad().to_host() == rounded_dy);
  }
  SUBCASE("to its own type: x itself") {
    const Variable x(Tensor::from_host(v, {4}), true);
    CHECK(cast(x, DType::F32).value().shares_storage(x.value()));
  }
}

TEST_CASE("bf16 conv2d adds its bias to the rounded convolution, then rounds again") {
  CHECK(bf16_conv_bias_mismatches(Device::CPU) == 0);
}

TEST_CASE("conv2d of a bf16 input convolves its float32 filter's bf16 rounding") {
  // Filter values that are not bf16 numbers, so that the rounding matters.
  std::vector<float> xs(2 * 4 * 3 * 5), ws(4 * 3 * 3 * 5), bs(4), seed(2 * 4 * 3 * 4);
  for (size_t i = 0; i < xs.size(); ++i) xs[i] = std::sin(0.37f * float(i)) * 1.01f;
  for (size_t i = 0; i < ws.size(); ++i) ws[i] = std::cos(0.23f * float(i)) * 0.3001f;
  for (size_t i = 0; i < bs.size(); ++i) bs[i] = 0.1f * float(i) + 0.0001f;
  for (size_t i = 0; i < seed.size(); ++i) seed[i] = std::sin(0.11f * float(i) + 1.f);
  std::vector<float> rounded = ws;
  for (float& v : rounded) v = round_to_bf16(v);
  REQUIRE(rounded != ws);
  struct Result {
    std::vector<float> y, dx, dw, db;
  };
  const auto run = [&](const std::vector<float>& filter) {
    Variable x(Tensor::from_host(xs, {2, 4, 3, 5}, Device::CPU, DType::BF16), true);
    Variable w(Tensor::from_host(filter, {4, 3, 3, 5}), true);
    Variable b(Tensor::from_host(bs, {4}), true);
    Variable y = conv2d(x, w, b, 1, 1);
    y.backward(Tensor::from_host(seed, {2, 4, 3, 4}, Device::CPU, DType::BF16));
    CHECK(w.grad().dtype() == DType::F32);
    return Result{y.value().to_host(), x.grad().to_host(), w.grad().to_host(), b.grad().to_host()};
  };
  // The filter and its rounding give the same bits everywhere: the op rounded it.
  const Result a = run(ws), b = run(rounded);
  CHECK(a.y == b.y);
  CHECK(a.dx == b.dx);
  CHECK(a.dw == b.dw);
  CHECK(a.db == b.db);
  // The filter's gradient is the float32 widening of bf16 values (as cuDNN stores it).
  for (float v : a.dw) CHECK(round_to_bf16(v) == v);
  // Filters are float32, whatever the input.
  const Variable x32(Tensor::from_host(xs, {2, 4, 3, 5}));
  const Variable w16(Tensor::from_host(ws, {4, 3, 3, 5}, Device::CPU, DType::BF16));
  CHECK(contains(error_of([&] { conv2d(x32, w16, Variable(), 1, 1); }),
                 "conv2d: a bfloat16 filter (filters are float32)"));
}
