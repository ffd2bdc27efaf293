# The CUDA kernels, listed once for their two builds: the GPU's (kernels/cuda) and the host
# emulation that tests them without a GPU (tests/cuda_emulation).
set(RF_CUDA_KERNEL_SOURCES
  augment.cu
  batchnorm_relu.cu
  elementwise.cu
  gather.cu
  linear_bias.cu
  metrics.cu
  optimizers.cu
  pooling.cu
  softmax.cu
  softmax_xent.cu)
