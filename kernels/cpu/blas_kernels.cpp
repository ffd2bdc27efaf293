#include "kernels/cpu/blas_kernels.h"

#include <cstdlib>
#include <strings.h>
#include <mutex>

// OpenBLAS's own entry points, weak so that a BLAS without them (not DYNAMIC_ARCH, not OpenBLAS)
// still links and is left alone.
extern "C" {
char* openblas_get_corename() __attribute__((weak));
void gotoblas_dynamic_init() __attribute__((weak));
void gotoblas_dynamic_quit() __attribute__((weak));
}

namespace rf::cpu {
namespace {

const char* corename() { return openblas_get_corename ? openblas_get_corename() : ""; }

// Only tables whose results passed every suite here (test_blog_trajectory included) are chosen.
// SkylakeX did not: its different GEMM blocking moved the 20-step trajectory 2x past tolerance
// (loss 4.6e-4) where Cooperlake, Haswell and Prescott stay within it, so an AVX-512 CPU without
// BF16 gets the AVX2 table.
const char* best_core() {
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512bf16"))
    return "Cooperlake";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return nullptr;
}

}  // namespace

const char* select_blas_kernels() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (!openblas_get_corename || !gotoblas_dynamic_init || !gotoblas_dynamic_quit) return;
    if (std::getenv("OPENBLAS_CORETYPE")) return;
    if (strcasecmp(corename(), "Prescott") != 0) return;
    const char* core = best_core();
    if (!core) return;
    // OpenBLAS reads OPENBLAS_CORETYPE in gotoblas_dynamic_init; the variable is removed again so
    // that child processes make their own choice.
    setenv("OPENBLAS_CORETYPE", core, 1);
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    unsetenv("OPENBLAS_CORETYPE");
  });
  return corename();
}

}  // namespace rf::cpu
