#pragma once
// The cross-backend op table: every op of the engine on awkward shapes (odd sizes, batch 1,
// channel counts that are not multiples of 4 or 32, 10 and 1000 classes) and on the real shapes
// of the refinery's models (batch 128 and 250), on float32 and (the ops that take them) bf16
// activations, each with its fixed inputs, its autograd forward, and its naive reference. The
// same table drives the CPU-vs-reference test, the finite-difference gradient check and the
// CUDA-vs-CPU test.
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/variable.h"
#include "reference.h"

namespace rf::test {

struct RefOut {
  ref::Vec y;
  std::vector<ref::Vec> grads;  // one per differentiable input
  std::map<std::string, ref::Vec> extras;
};

struct RunOut {
  std::vector<float> y;
  std::vector<std::vector<float>> grads;
  std::map<std::string, std::vector<float>> extras;
};

using Extras = std::map<std::string, Tensor>;

// n fixed pseudo-random values, uniform in [lo, hi), the same for a given seed.
std::vector<float> uniform(int64_t n, unsigned seed, float lo = -1.f, float hi = 1.f);

struct OpCase {
  std::string op;     // the op, named as its kernel sources are (conv2d, softmax_xent, ...)
  std::string shape;  // what is awkward about this case
  std::vector<Shape> input_shapes;
  std::vector<std::vector<float>> inputs;  // host values of the differentiable inputs
  // Builds the op on `device`. Constant inputs (targets, running statistics) live in the case and
  // are created on `device` here; tensors other than the output that must match go in extras.
  std::function<Variable(std::vector<Variable>&, Device, Extras&)> forward;
  // The naive reference for the same inputs and upstream gradient dy.
  std::function<RefOut(const std::vector<ref::Vec>& inputs, const ref::Vec& dy)> reference;
  double ref_tol = 1e-5;   // CPU vs the naive double reference, normalized max error
  double gpu_tol = 1e-5;   // CUDA vs CPU, normalized max error (FP32 math, TF32 off; bf16: either)
  // Longest reduction the op may run in TF32 on the GPU (convolutions, linear); 0: none, the op's
  // math (FP32, or bf16 tensor cores) is the same whatever the setting. See gpu_tolerance.
  int64_t tf32_reduction = 0;
  bool backward = true;    // false: a forward-only mode (batch norm in eval mode)
  double fd_step = 1e-2;   // finite-difference step for the gradient check
  // false for the real-size cases (batch 128/250): finite differences through millions of
  // elements measure float noise, and each costs hundreds of forward passes. False for the bf16
  // cases too: their outputs are too coarse to difference.
  bool gradcheck = true;
  // Inputs taken as a model's parameters: leaves whose gradients go into bound buffers
  // (Variable::bind_grad_buffer) that hold accumulated_prior(i) before the backward pass, so that
  // the ops add into them (the backends' `accumulate`). The reference adds the prior.
  std::vector<size_t> accumulated;
};

// What the bound gradient buffer of input i of an accumulated case holds before the backward pass.
std::vector<float> accumulated_prior(int64_t n, size_t i);

std::vector<OpCase> all_op_cases();

// CUDA-vs-CPU tolerance of a case with TF32 off (gpu_tol) or allowed.
double gpu_tolerance(const OpCase& c, bool tf32);

// Fixed pseudo-random upstream gradient for an output of n elements.
std::vector<float> upstream_grad(int64_t n);

// Forward on `device`, backward seeded with upstream_grad, everything copied back to the host.
RunOut run_case(const OpCase& c, Device device);

// max |got - want| / max |want|: an error relative to the scale of the whole output.
double normalized_error(const std::vector<float>& got, const std::vector<double>& want);
double normalized_error(const std::vector<float>& got, const std::vector<float>& want);

std::string case_name(const OpCase& c);

// The elements where a bf16 conv2d with a bias on `device` differs from the same convolution
// without one plus the bias, rounded: backend.h adds the bias to the rounded convolution and
// rounds again. The op table's tolerance allows for both roundings but not for their order.
int64_t bf16_conv_bias_mismatches(Device device);

}  // namespace rf::test
