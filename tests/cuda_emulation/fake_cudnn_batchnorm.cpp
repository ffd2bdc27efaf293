// The fake cuDNN's batch norm (see fake_cudnn.cpp): SPATIAL mode on NHWC float tensors, with
// double accumulation.
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "fake_cudnn_internal.h"

namespace {

using rf::cuda_emulation::enqueue;
using rf::cuda_emulation::is_device_pointer;
using rf::cuda_emulation::Node;
using rf::fake_cudnn::fail;

struct BnShape {
  int64_t rows;  // n * h * w positions
  int c;
};

// Validates a batch norm's descriptors: SPATIAL mode, float NHWC data whose other tensors (y,
// dy, dx) have x's shape, parameters 1 x c x 1 x 1 float.
cudnnStatus_t bn_shape(cudnnBatchNormMode_t mode, const cudnnTensorStruct* x,
                       std::initializer_list<const cudnnTensorStruct*> like_x,
                       const cudnnTensorStruct* param, double epsilon, BnShape* g) {
  if (mode != CUDNN_BATCHNORM_SPATIAL)
    return fail(CUDNN_STATUS_NOT_SUPPORTED, "batch norm mode other than SPATIAL");
  if (x == nullptr || param == nullptr || !x->set || !param->set)
    return fail(CUDNN_STATUS_BAD_PARAM, "a descriptor is null or was never set");
  if (x->type != CUDNN_DATA_FLOAT)
    return fail(CUDNN_STATUS_NOT_SUPPORTED, "batch norm on data other than float");
  for (const cudnnTensorStruct* t : like_x)
    if (t == nullptr || !t->set || t->type != x->type || t->n != x->n || t->c != x->c ||
        t->h != x->h || t->w != x->w)
      return fail(CUDNN_STATUS_BAD_PARAM, "a data tensor's descriptor differs from x's");
  if (param->type != CUDNN_DATA_FLOAT || param->n != 1 || param->c != x->c || param->h != 1 ||
      param->w != 1)
    return fail(CUDNN_STATUS_BAD_PARAM, "the parameter descriptor is not 1 x c x 1 x 1 float");
  if (!(epsilon >= CUDNN_BN_MIN_EPSILON))
    return fail(CUDNN_STATUS_BAD_PARAM, "epsilon below CUDNN_BN_MIN_EPSILON");
  *g = {int64_t(x->n) * x->h * x->w, x->c};
  return CUDNN_STATUS_SUCCESS;
}

// Each pointer is device memory of its size: data tensors rows * c floats, parameters c floats.
cudnnStatus_t bn_memory(const BnShape& g, std::initializer_list<const void*> data,
                        std::initializer_list<const void*> params) {
  for (const void* p : data)
    if (!is_device_pointer(p, size_t(g.rows * g.c) * sizeof(float)))
      return fail(CUDNN_STATUS_BAD_PARAM, "a data tensor is not device memory of its size");
  for (const void* p : params)
    if (!is_device_pointer(p, size_t(g.c) * sizeof(float)))
      return fail(CUDNN_STATUS_BAD_PARAM, "a parameter is not device memory of its size");
  return CUDNN_STATUS_SUCCESS;
}

// Per channel: the mean and the biased variance (two passes, double accumulation).
void channel_stats(const BnShape& g, const float* x, std::vector<double>& mean,
                   std::vector<double>& var) {
  mean.assign(size_t(g.c), 0.0);
  var.assign(size_t(g.c), 0.0);
  for (int64_t i = 0; i < g.rows; ++i)
    for (int j = 0; j < g.c; ++j) mean[size_t(j)] += x[i * g.c + j];
  for (double& m : mean) m /= double(g.rows);
  for (int64_t i = 0; i < g.rows; ++i)
    for (int j = 0; j < g.c; ++j) {
      const double d = x[i * g.c + j] - mean[size_t(j)];
      var[size_t(j)] += d * d;
    }
  for (double& v : var) v /= double(g.rows);
}

// out = alpha * value + beta * out, out read only when beta != 0.
void scale_into(float* out, double value, float alpha, float beta) {
  *out = beta == 0.f ? float(alpha * value) : float(alpha * value + double(beta) * *out);
}

// y = alpha * (gamma * (x - mean) * invstd + bias) + beta * y over the whole tensor.
void bn_apply(const BnShape& g, const float* x, const float* gamma, const float* bias,
              const std::vector<double>& mean, const std::vector<double>& invstd, float alpha,
              float beta, float* y) {
  for (int64_t i = 0; i < g.rows; ++i)
    for (int j = 0; j < g.c; ++j) {
      const size_t jj = size_t(j);
      const double v = gamma[j] * (x[i * g.c + j] - mean[jj]) * invstd[jj] + bias[j];
      scale_into(y + i * g.c + j, v, alpha, beta);
    }
}

bool read_scalars(const void* alpha_p, const void* beta_p, float* alpha, float* beta) {
  if (alpha_p == nullptr || beta_p == nullptr) return false;
  *alpha = *static_cast<const float*>(alpha_p);
  *beta = *static_cast<const float*>(beta_p);
  return true;
}

}  // namespace

cudnnStatus_t cudnnDeriveBNTensorDescriptor(cudnnTensorDescriptor_t derivedBnDesc,
                                            const cudnnTensorDescriptor_t xDesc,
                                            cudnnBatchNormMode_t mode) {
  if (derivedBnDesc == nullptr || xDesc == nullptr || !xDesc->set)
    return fail(CUDNN_STATUS_BAD_PARAM, "a descriptor is null or was never set");
  if (mode != CUDNN_BATCHNORM_SPATIAL)
    return fail(CUDNN_STATUS_NOT_SUPPORTED, "batch norm mode other than SPATIAL");
  // Statistics and parameters are float for float and bfloat16 data alike.
  *derivedBnDesc = {true, CUDNN_DATA_FLOAT, 1, xDesc->c, 1, 1};
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnBatchNormalizationForwardTraining(
    cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void* alpha, const void* beta,
    const cudnnTensorDescriptor_t xDesc, const void* x, const cudnnTensorDescriptor_t yDesc,
    void* y, const cudnnTensorDescriptor_t bnScaleBiasMeanVarDesc, const void* bnScale,
    const void* bnBias, double exponentialAverageFactor, void* resultRunningMean,
    void* resultRunningVariance, double epsilon, void* resultSaveMean,
    void* resultSaveInvVariance) {
  BnShape g;
  if (const cudnnStatus_t s = bn_shape(mode, xDesc, {yDesc}, bnScaleBiasMeanVarDesc, epsilon, &g);
      s != CUDNN_STATUS_SUCCESS)
    return s;
  float a, b;
  if (handle == nullptr || !read_scalars(alpha, beta, &a, &b))
    return fail(CUDNN_STATUS_BAD_PARAM, "a null handle, alpha or beta");
  // The running statistics, and the saved ones, are each updated both or neither.
  const bool running = resultRunningMean != nullptr;
  const bool save = resultSaveMean != nullptr;
  if (running != (resultRunningVariance != nullptr) || save != (resultSaveInvVariance != nullptr))
    return fail(CUDNN_STATUS_BAD_PARAM, "one of a pair of statistics is null");
  if (const cudnnStatus_t s = bn_memory(g, {x, y}, {bnScale, bnBias}); s != CUDNN_STATUS_SUCCESS)
    return s;
  if (running) {
    if (const cudnnStatus_t s = bn_memory(g, {}, {resultRunningMean, resultRunningVariance});
        s != CUDNN_STATUS_SUCCESS)
      return s;
  }
  if (save) {
    if (const cudnnStatus_t s = bn_memory(g, {}, {resultSaveMean, resultSaveInvVariance});
        s != CUDNN_STATUS_SUCCESS)
      return s;
  }
  const auto* xf = static_cast<const float*>(x);
  const auto* gamma = static_cast<const float*>(bnScale);
  const auto* bias = static_cast<const float*>(bnBias);
  auto* yf = static_cast<float*>(y);
  auto* run_mean = static_cast<float*>(resultRunningMean);
  auto* run_var = static_cast<float*>(resultRunningVariance);
  auto* save_mean = static_cast<float*>(resultSaveMean);
  auto* save_invstd = static_cast<float*>(resultSaveInvVariance);
  const double factor = exponentialAverageFactor;
  enqueue(handle->stream, Node::kKernel, [=] {
    std::vector<double> mean, var;
    channel_stats(g, xf, mean, var);
    std::vector<double> invstd(size_t(g.c));
    for (size_t j = 0; j < invstd.size(); ++j) invstd[j] = 1 / std::sqrt(var[j] + epsilon);
    bn_apply(g, xf, gamma, bias, mean, invstd, a, b, yf);
    for (size_t j = 0; j < invstd.size(); ++j) {
      if (running) {
        // The running variance follows the unbiased batch variance.
        const double unbiased = var[j] * double(g.rows) / double(g.rows - 1);
        run_mean[j] = float((1 - factor) * run_mean[j] + factor * mean[j]);
        run_var[j] = float((1 - factor) * run_var[j] + factor * unbiased);
      }
      if (save) {
        save_mean[j] = float(mean[j]);
        save_invstd[j] = float(invstd[j]);
      }
    }
  });
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnBatchNormalizationForwardInference(
    cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void* alpha, const void* beta,
    const cudnnTensorDescriptor_t xDesc, const void* x, const cudnnTensorDescriptor_t yDesc,
    void* y, const cudnnTensorDescriptor_t bnScaleBiasMeanVarDesc, const void* bnScale,
    const void* bnBias, const void* estimatedMean, const void* estimatedVariance,
    double epsilon) {
  BnShape g;
  if (const cudnnStatus_t s = bn_shape(mode, xDesc, {yDesc}, bnScaleBiasMeanVarDesc, epsilon, &g);
      s != CUDNN_STATUS_SUCCESS)
    return s;
  float a, b;
  if (handle == nullptr || !read_scalars(alpha, beta, &a, &b))
    return fail(CUDNN_STATUS_BAD_PARAM, "a null handle, alpha or beta");
  if (const cudnnStatus_t s =
          bn_memory(g, {x, y}, {bnScale, bnBias, estimatedMean, estimatedVariance});
      s != CUDNN_STATUS_SUCCESS)
    return s;
  const auto* xf = static_cast<const float*>(x);
  const auto* gamma = static_cast<const float*>(bnScale);
  const auto* bias = static_cast<const float*>(bnBias);
  const auto* est_mean = static_cast<const float*>(estimatedMean);
  const auto* est_var = static_cast<const float*>(estimatedVariance);
  auto* yf = static_cast<float*>(y);
  enqueue(handle->stream, Node::kKernel, [=] {
    std::vector<double> mean(size_t(g.c)), invstd(size_t(g.c));
    for (size_t j = 0; j < mean.size(); ++j) {
      mean[j] = est_mean[j];
      invstd[j] = 1 / std::sqrt(double(est_var[j]) + epsilon);
    }
    bn_apply(g, xf, gamma, bias, mean, invstd, a, b, yf);
  });
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnBatchNormalizationBackward(
    cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void* alphaDataDiff,
    const void* betaDataDiff, const void* alphaParamDiff, const void* betaParamDiff,
    const cudnnTensorDescriptor_t xDesc, const void* x, const cudnnTensorDescriptor_t dyDesc,
    const void* dy, const cudnnTensorDescriptor_t dxDesc, void* dx,
    const cudnnTensorDescriptor_t dBnScaleBiasDesc, const void* bnScale, void* dBnScaleResult,
    void* dBnBiasResult, double epsilon, const void* savedMean, const void* savedInvVariance) {
  BnShape g;
  if (const cudnnStatus_t s = bn_shape(mode, xDesc, {dyDesc, dxDesc}, dBnScaleBiasDesc, epsilon,
                                       &g);
      s != CUDNN_STATUS_SUCCESS)
    return s;
  float a_data, b_data, a_param, b_param;
  if (handle == nullptr || !read_scalars(alphaDataDiff, betaDataDiff, &a_data, &b_data) ||
      !read_scalars(alphaParamDiff, betaParamDiff, &a_param, &b_param))
    return fail(CUDNN_STATUS_BAD_PARAM, "a null handle or scaling factor");
  // Without the forward's saved statistics (both null) they are computed again from x.
  const bool saved = savedMean != nullptr;
  if (saved != (savedInvVariance != nullptr))
    return fail(CUDNN_STATUS_BAD_PARAM, "one of the saved statistics is null");
  if (const cudnnStatus_t s =
          bn_memory(g, {x, dy, dx}, {bnScale, dBnScaleResult, dBnBiasResult});
      s != CUDNN_STATUS_SUCCESS)
    return s;
  if (saved) {
    if (const cudnnStatus_t s = bn_memory(g, {}, {savedMean, savedInvVariance});
        s != CUDNN_STATUS_SUCCESS)
      return s;
  }
  const auto* xf = static_cast<const float*>(x);
  const auto* dyf = static_cast<const float*>(dy);
  const auto* gamma = static_cast<const float*>(bnScale);
  const auto* saved_mean = static_cast<const float*>(savedMean);
  const auto* saved_invstd = static_cast<const float*>(savedInvVariance);
  auto* dxf = static_cast<float*>(dx);
  auto* dgamma = static_cast<float*>(dBnScaleResult);
  auto* dbeta = static_cast<float*>(dBnBiasResult);
  enqueue(handle->stream, Node::kKernel, [=] {
    const size_t c = size_t(g.c);
    std::vector<double> mean(c), invstd(c);
    if (saved) {
      for (size_t j = 0; j < c; ++j) {
        mean[j] = saved_mean[j];
        invstd[j] = saved_invstd[j];
      }
    } else {
      std::vector<double> var;
      channel_stats(g, xf, mean, var);
      for (size_t j = 0; j < c; ++j) invstd[j] = 1 / std::sqrt(var[j] + epsilon);
    }
    std::vector<double> sum_dy(c), sum_dy_xhat(c);
    for (int64_t i = 0; i < g.rows; ++i)
      for (size_t j = 0; j < c; ++j) {
        const size_t at = size_t(i) * c + j;
        sum_dy[j] += dyf[at];
        sum_dy_xhat[j] += dyf[at] * (xf[at] - mean[j]) * invstd[j];
      }
    const double m = double(g.rows);
    for (int64_t i = 0; i < g.rows; ++i)
      for (size_t j = 0; j < c; ++j) {
        const size_t at = size_t(i) * c + j;
        const double xhat = (xf[at] - mean[j]) * invstd[j];
        const double d =
            gamma[j] * invstd[j] * (dyf[at] - sum_dy[j] / m - xhat * sum_dy_xhat[j] / m);
        scale_into(dxf + at, d, a_data, b_data);
      }
    for (size_t j = 0; j < c; ++j) {
      scale_into(dgamma + j, sum_dy_xhat[j], a_param, b_param);
      scale_into(dbeta + j, sum_dy[j], a_param, b_param);
    }
  });
  return CUDNN_STATUS_SUCCESS;
}
