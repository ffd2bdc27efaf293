#include "models/layers.h"

#include "engine/check.h"
#include "engine/ops.h"

namespace rf::models {

Conv2d::Conv2d(int in, int out, int kernel, int stride, int pad, bool bias, Initializer& init)
    : stride_(stride), pad_(pad) {
  RF_CHECK(in > 0 && out > 0 && kernel > 0 && stride > 0 && pad >= 0,
           "Conv2d: in " << in << ", out " << out << ", kernel " << kernel << ", stride "
                         << stride << ", pad " << pad);
  weight_ = Variable(init.conv_weight(out, kernel, kernel, in), true);
  register_parameter("weight", &weight_);
  if (bias) {
    bias_ = Variable(init.conv_bias(out, kernel * kernel * in), true);
    register_parameter("bias", &bias_);
  }
}

// Under --precision bf16 the input is bf16, and conv2d convolves it with a bf16 rounding of the
// float32 weights (their gradient comes back float32).
Variable Conv2d::forward(const Variable& x) { return conv2d(x, weight_, bias_, stride_, pad_); }

BatchNorm2d::BatchNorm2d(int channels, float eps, float momentum)
    : eps_(eps),
      momentum_(momentum),
      gamma_(Tensor::full({channels}, 1.f), true),
      beta_(Tensor::zeros({channels}), true),
      running_mean_(Tensor::zeros({channels})),
      running_var_(Tensor::full({channels}, 1.f)) {
  register_parameter("weight", &gamma_);
  register_parameter("bias", &beta_);
  register_buffer("running_mean", &running_mean_);
  register_buffer("running_var", &running_var_);
}

Variable BatchNorm2d::forward(const Variable& x) {
  return batchnorm(x, gamma_, beta_, running_mean_, running_var_, training(), momentum_, eps_);
}

Variable BatchNorm2d::forward_relu(const Variable& x, const Variable& residual) {
  return batchnorm_relu(x, gamma_, beta_, running_mean_, running_var_, training(), momentum_, eps_,
                        residual);
}

Linear::Linear(int in, int out, Initializer& init)
    : weight_(init.linear_weight(out, in), true), bias_(init.linear_bias(out, in), true) {
  register_parameter("weight", &weight_);
  register_parameter("bias", &bias_);
}

Variable Linear::forward(const Variable& x) { return linear(x, weight_, bias_); }

Variable Sequential::forward(const Variable& x) {
  Variable h = x;
  for (Module* m : order_) h = m->forward(h);
  return h;
}

}  // namespace rf::models
