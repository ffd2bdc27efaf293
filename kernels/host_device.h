#pragma once
// Marks a function that compiles for both the host and the GPU: code shared by a CPU kernel and
// its CUDA twin is then written once, so both compute the same operations in the same order.
#ifdef __CUDACC__
#define RF_HOST_DEVICE __host__ __device__
#else
#define RF_HOST_DEVICE
#endif
