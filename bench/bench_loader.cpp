// Loader throughput: full Keras-style augmentation (the blog's 10 deg / 10% zoom / 10% shifts /
// flip) plus normalization on 32x32 RGB, as images/s for 1..N worker threads. The target is
// >= 10,000 images/s per core. Then Backend::augment_batch, the same work on data resident in a
// backend's memory (train::DeviceDataset), batch 250, on the CPU backend (all its threads) and,
// when a GPU is usable, on CUDA. Prints figures only; nothing is asserted.
//
// usage: bench_loader [images=20000] [epochs=3]

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "data/augment.h"
#include "data/loader.h"
#include "data/normalize.h"
#include "data/rng.h"
#include "engine/backend.h"
#include "engine/tensor.h"

using namespace rf::data;
using Clock = std::chrono::steady_clock;

namespace {

Dataset synthetic_cifar(std::size_t n) {
  Dataset d;
  d.name = "synthetic-32x32";
  d.height = d.width = 32;
  d.channels = 3;
  d.classes = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  d.images.resize(n * d.sample_bytes());
  Rng rng(1);
  for (auto& px : d.images) px = static_cast<std::uint8_t>(rng.next());
  for (std::size_t i = 0; i < n; ++i) d.labels.push_back(static_cast<std::int32_t>(i % 10));
  return d;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Single-thread cost of one sample's augmentation, without the loader around it.
double kernel_rate(const Dataset& d, const AugmentConfig& cfg, const Normalization& norm) {
  std::vector<float> out(d.sample_bytes());
  const auto t0 = Clock::now();
  for (std::size_t i = 0; i < d.size(); ++i)
    augment_sample(cfg, d.image(i), 32, 32, 3, {1, 0, i}, norm, out.data());
  const double s = seconds_since(t0);
  volatile float keep = out[0];  // the result must look used, or the work may be optimised away
  (void)keep;
  return static_cast<double>(d.size()) / s;
}

// Backend::augment_batch over `d` already in `b`'s memory, batches of 250 in a shuffled order.
double backend_rate(rf::Backend& b, const Dataset& d, const AugmentConfig& cfg,
                    const Normalization& norm, int epochs) {
  constexpr std::int64_t kBatch = 250;
  const rf::Storage images(b, d.images.size());
  b.copy_from_host(images.data(), d.images.data(), d.images.size());
  Rng rng(2);
  std::vector<std::int64_t> order;
  for (std::size_t i : permutation(d.size(), rng)) order.push_back(static_cast<std::int64_t>(i));
  const rf::Storage indices(b, order.size() * sizeof(std::int64_t));
  b.copy_from_host(indices.data(), order.data(), order.size() * sizeof(std::int64_t));
  const rf::Storage out(b, static_cast<std::size_t>(kBatch) * d.sample_bytes() * sizeof(float));
  rf::AugmentBatch a;
  a.count = static_cast<std::int64_t>(d.size());
  a.h = d.height;
  a.w = d.width;
  a.c = d.channels;
  a.n = kBatch;
  a.seed = 1;
  a.spec = cfg;
  a.norm = channel_affine(norm, d.channels, "bench");
  const std::int64_t batches = a.count / kBatch;
  const auto run = [&](std::int64_t k) {
    a.epoch = static_cast<std::uint64_t>(k / batches);
    b.augment_batch(a, static_cast<const std::uint8_t*>(images.data()),
                    static_cast<const std::int64_t*>(indices.data()) + (k % batches) * kBatch,
                    static_cast<float*>(out.data()));
  };
  run(0);  // warm-up: first launch, page faults
  b.synchronize();
  const auto t0 = Clock::now();
  for (std::int64_t k = 0; k < epochs * batches; ++k) run(k);
  b.synchronize();
  return static_cast<double>(epochs * batches * kBatch) / seconds_since(t0);
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t images = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 20000;
  const int epochs = argc > 2 ? std::atoi(argv[2]) : 3;
  const Dataset d = synthetic_cifar(images);
  const Normalization norm = compute_normalization(d);
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  std::printf("bench_loader: %zu synthetic 32x32x3 images, %d epochs, %u hardware threads\n", images,
              epochs, cores);

  std::printf("single-thread augment kernel (no loader):\n");
  const double keras = kernel_rate(d, AugmentConfig::blog(true), norm);
  std::printf("  keras (10deg, 10%% zoom, 10%% shift, flip): %10.0f images/s\n", keras);
  const double crop = kernel_rate(d, AugmentConfig::pad_crop_flip(), norm);
  std::printf("  pad-4 crop + flip:                        %10.0f images/s\n", crop);

  std::printf("loader, keras augmentation, batch 128 (consumer only takes batches):\n");
  std::vector<unsigned> counts = {1};
  for (unsigned w = 2; w <= cores; w *= 2) counts.push_back(w);
  if (counts.back() != cores) counts.push_back(cores);
  for (unsigned workers : counts) {
    LoaderOptions o;
    o.batch_size = 128;
    o.workers = workers;
    o.prefetch = 2 * workers + 2;
    o.augment = AugmentConfig::blog(true);
    o.normalization = norm;
    Loader loader(d, o);
    std::size_t seen = 0;
    const auto t0 = Clock::now();
    for (int e = 0; e < epochs; ++e) {
      loader.start_epoch(static_cast<std::uint64_t>(e));
      while (BatchPtr b = loader.next()) seen += b->size;
    }
    const double rate = static_cast<double>(seen) / seconds_since(t0);
    std::printf("  workers %2u: %10.0f images/s  (%8.0f per worker)\n", workers, rate, rate / workers);
  }

  std::printf("Backend::augment_batch, batch 250, images in the backend's memory:\n");
  std::vector<rf::Backend*> backends = {&rf::cpu_backend()};
  if (rf::cuda_available()) backends.push_back(&rf::cuda_backend());
  for (rf::Backend* b : backends) {
    std::printf("  %-4s keras:     %10.0f images/s\n", b->name(),
                backend_rate(*b, d, AugmentConfig::blog(true), norm, epochs));
    std::printf("  %-4s crop-flip: %10.0f images/s\n", b->name(),
                backend_rate(*b, d, AugmentConfig::pad_crop_flip(), norm, epochs));
  }
  return 0;
}
