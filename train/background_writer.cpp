#include "train/background_writer.h"

#include <cstdio>
#include <exception>
#include <utility>

namespace rf::train {

void BackgroundWriter::start(std::function<void()> write) {
  wait();
  pending_ = std::async(std::launch::async, std::move(write));
}

void BackgroundWriter::wait() {
  if (pending_.valid()) pending_.get();  // leaves pending_ empty, also when it throws
}

void BackgroundWriter::finish() noexcept {
  try {
    wait();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
  }
}

}  // namespace rf::train
