// OpenBLAS's kernels (kernels/cpu/blas_kernels.h): once the CPU backend exists, a CPU with AVX2 or
// AVX-512 is never left on OpenBLAS's SSE3 "Prescott" fallback (unless OPENBLAS_CORETYPE asks for
// it), and the selected kernels still compute a correct sgemm.
#include <doctest/doctest.h>

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "kernels/cpu/blas_kernels.h"

using namespace rf;

TEST_CASE("the CPU backend selects OpenBLAS kernels that match the CPU") {
  (void)cpu_backend();
  const std::string core = cpu::select_blas_kernels();
  CHECK(core == cpu::select_blas_kernels());  // runs once; asking again changes nothing
  if (std::getenv("OPENBLAS_CORETYPE") || core.empty()) {
    MESSAGE("OPENBLAS_CORETYPE set or not an OpenBLAS with a core name: nothing to check");
    return;
  }
  MESSAGE("OpenBLAS kernels: " << core);
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) CHECK(core != "Prescott");

  // A GEMM of the CIFAR ResNets' awkward shapes (N = 16) against a double-precision sum.
  const int m = 300, n = 16, k = 144;
  std::vector<float> a(size_t(m) * k), b(size_t(n) * k), c(size_t(m) * n);
  for (size_t i = 0; i < a.size(); ++i) a[i] = float((i * 37) % 101) / 50.f - 1.f;
  for (size_t i = 0; i < b.size(); ++i) b[i] = float((i * 53) % 89) / 44.f - 1.f;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.f, a.data(), k, b.data(), k,
              0.f, c.data(), n);
  double worst = 0;  // largest error relative to the sum of |terms|
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      double ref = 0, mag = 0;
      for (int l = 0; l < k; ++l) {
        const double t = double(a[size_t(i) * k + l]) * b[size_t(j) * k + l];
        ref += t;
        mag += std::fabs(t);
      }
      worst = std::max(worst, std::fabs(c[size_t(i) * n + j] - ref) / mag);
    }
  CHECK(worst < 1e-6);
}
