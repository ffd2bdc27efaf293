#pragma once
// OpenBLAS picks its compute kernels for the CPU when it loads. A DYNAMIC_ARCH build older than the
// CPU does not recognize the model and falls back to its SSE3 "Prescott" kernels: Debian bookworm's
// OpenBLAS 0.3.21 on an Emerald Rapids (CPUID family 6, model 207) does, and there its sgemm ran
// 1.7x (16 channels) to 4-5x (64 channels) slower on GEMMs of the CIFAR ResNets' sizes than with
// the AVX-512 kernels (2 threads, measured 2026-11-28, issue 13). The linear layers use it (the
// convolutions run on oneDNN, engine/onednn_conv.h).
//
// select_blas_kernels() re-runs OpenBLAS's kernel selection with the best table the CPU's features
// allow (Cooperlake with AVX-512 BF16, else Haswell with AVX2 + FMA; see blas_kernels.cpp),
// when and only when: OpenBLAS fell back to Prescott, OPENBLAS_CORETYPE is unset (a user's choice
// wins; OPENBLAS_CORETYPE=Prescott restores the fallback), and the library exports its
// dynamic-dispatch entry points (a DYNAMIC_ARCH build). Call it before the first BLAS call (the CPU
// backend does, when it is created); it runs once and is thread-safe. A run stays bitwise
// repeatable for a given machine and thread count.
namespace rf::cpu {

// OpenBLAS's kernel table after the selection ("Cooperlake", "Haswell", ...; "" if unknown).
const char* select_blas_kernels();

}  // namespace rf::cpu
