#pragma once
// A model's tensors in PyTorch's layouts, for tools/refinery_resnet.py (a torch.nn.Module of
// every architecture of factory.h) to load with load_state_dict(strict=True): the names are
// ours, which are PyTorch's already (stem.conv.weight, stage1.block0.bn1.running_mean, fc.bias;
// see layers.h), convolution weights go from our KRSC [out, kh, kw, in] to PyTorch's OIHW
// [out, in, kh, kw], and the rest (linear [out, in], batch-norm vectors, biases) is unchanged.
#include "models/model.h"

namespace rf::models {

// CPU tensors, in state() order. BatchNorm's num_batches_tracked is left out: PyTorch fills it
// in when a state dict lacks it, and only the momentum=None mode reads it.
NamedTensors pytorch_state(const Model& model);

}  // namespace rf::models
