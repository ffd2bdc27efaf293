#include "train/out_of_memory.h"

#include <cstdio>
#include <string>

namespace rf::train {

OutOfMemory explain_out_of_memory(const OutOfMemory& e, std::size_t batch_size) {
  char asked[160];
  std::snprintf(asked, sizeof asked, "GPU out of memory: asked for %.1f MiB at batch size %zu; ",
                double(e.bytes) / (1024.0 * 1024.0), batch_size);
  // Activations kept for the backward pass grow with the batch; halving it is the usual fix.
  const std::string hint = batch_size > 1 ? "try --batch-size " + std::to_string(batch_size / 2)
                                          : "try a smaller model";
  return OutOfMemory(e.bytes, asked + hint + " (" + e.what() + ")");
}

}  // namespace rf::train
