#include "engine/cuda/cudnn_batchnorm.h"

#include "engine/check.h"
#include "engine/cuda/cudnn_check.h"
#include "engine/cuda/cudnn_descriptors.h"

// cuDNN conventions relied on (see the cudnnBatchNormalization* reference):
//  - training normalizes with the biased batch variance and updates
//    running = (1 - factor) * running + factor * batch with the unbiased variance;
//    exponentialAverageFactor is our momentum;
//  - resultSaveMean / resultSaveInvVariance are the batch mean and 1 / sqrt(var + eps), which
//    is our save_mean / save_invstd, and the backward pass takes them back;
//  - alpha = 1, beta = 0 everywhere, outputs overwritten, except the parameter gradients'
//    betaParamDiff: 1 when they accumulate (dgamma = result + dgamma, as Backend's accumulate).

namespace rf {
namespace {

struct BnDescriptors {
  TensorDescriptor x;      // NHWC (n, c, h, w): the activation as it is in memory
  TensorDescriptor param;  // 1 x c x 1 x 1, derived by cuDNN
  explicit BnDescriptors(const BnGeom& g) {
    RF_CHECK(g.n > 0 && g.h > 0 && g.w > 0 && g.c > 0,
             "batchnorm: unsupported shape n=" << g.n << " h=" << g.h << " w=" << g.w
                                               << " c=" << g.c);
    RF_CUDNN_CHECK(
        cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, g.n, g.c, g.h, g.w));
    RF_CUDNN_CHECK(cudnnDeriveBNTensorDescriptor(param, x, CUDNN_BATCHNORM_SPATIAL));
  }
};

void check_eps(float eps) {
  RF_CHECK(double(eps) >= CUDNN_BN_MIN_EPSILON,
           "batchnorm: eps " << eps << " is below cuDNN's minimum " << CUDNN_BN_MIN_EPSILON);
}

}  // namespace

void cudnn_batchnorm_forward_train(cudnnHandle_t h, const BnGeom& g, const float* x,
                                   const float* gamma, const float* beta, float eps,
                                   float momentum, float* running_mean, float* running_var,
                                   float* y, float* save_mean, float* save_invstd) {
  check_eps(eps);
  const BnDescriptors d(g);
  const float one = 1.f, zero = 0.f;
  RF_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(
      h, CUDNN_BATCHNORM_SPATIAL, &one, &zero, d.x, x, d.x, y, d.param, gamma, beta,
      double(momentum), running_mean, running_var, double(eps), save_mean, save_invstd));
}

void cudnn_batchnorm_forward_eval(cudnnHandle_t h, const BnGeom& g, const float* x,
                                  const float* gamma, const float* beta, const float* running_mean,
                                  const float* running_var, float eps, float* y) {
  check_eps(eps);
  const BnDescriptors d(g);
  const float one = 1.f, zero = 0.f;
  RF_CUDNN_CHECK(cudnnBatchNormalizationForwardInference(
      h, CUDNN_BATCHNORM_SPATIAL, &one, &zero, d.x, x, d.x, y, d.param, gamma, beta,
      running_mean, running_var, double(eps)));
}

// cuDNN's reference asks for the forward's epsilon here too, saved statistics or not.
void cudnn_batchnorm_backward(cudnnHandle_t h, const BnGeom& g, const float* x, const float* dy,
                              const float* gamma, const float* save_mean, const float* save_invstd,
                              float eps, float* dx, float* dgamma, float* dbeta,
                              bool accumulate) {
  check_eps(eps);
  const BnDescriptors d(g);
  const float one = 1.f, zero = 0.f;
  const float* param_beta = accumulate ? &one : &zero;
  RF_CUDNN_CHECK(cudnnBatchNormalizationBackward(
      h, CUDNN_BATCHNORM_SPATIAL, &one, &zero, &one, param_beta, d.x, x, d.x, dy, d.x, dx,
      d.param, gamma, dgamma, dbeta, double(eps), save_mean, save_invstd));
}

}  // namespace rf
