#pragma once
// Breaks the layering rule on purpose: the engine including the trainer. The CTest
// layering_detects_violation runs .ci/check-layers on this tree and expects it to fail.
#include "engine/tensor.h"
#include "train/trainer.h"
