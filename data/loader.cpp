#include "data/loader.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <new>
#include <stdexcept>
#include <thread>

#include "data/bytes.h"
#include "data/rng.h"

namespace rf::data {

HostAllocator HostAllocator::aligned() {
  return {[](std::size_t bytes) { return ::operator new(bytes, std::align_val_t{64}); },
          [](void* p) { ::operator delete(p, std::align_val_t{64}); }};
}

namespace {

// Recycles batch buffers: pinned allocations are slow, so each is made once and reused. A size
// of zero allocates no buffer (the indices-only mode).
class BatchPool : public std::enable_shared_from_this<BatchPool> {
 public:
  BatchPool(HostAllocator alloc, std::size_t image_floats, std::size_t target_floats)
      : alloc_(std::move(alloc)), image_floats_(image_floats), target_floats_(target_floats) {}
  ~BatchPool() {
    for (Batch* b : free_) destroy(b);
  }

  std::shared_ptr<Batch> acquire() {
    Batch* b = nullptr;
    {
      std::lock_guard lock(mutex_);
      if (!free_.empty()) {
        b = free_.back();
        free_.pop_back();
      }
    }
    if (!b) b = create();
    return std::shared_ptr<Batch>(b, [pool = shared_from_this()](Batch* p) { pool->release(p); });
  }

 private:
  Batch* create() {
    auto b = std::make_unique<Batch>();
    if (image_floats_ == 0) return b.release();
    b->images = static_cast<float*>(alloc_.allocate(image_floats_ * sizeof(float)));
    if (!b->images) throw std::bad_alloc();
    b->soft_targets = static_cast<float*>(alloc_.allocate(target_floats_ * sizeof(float)));
    if (!b->soft_targets) {
      alloc_.deallocate(b->images);
      throw std::bad_alloc();
    }
    return b.release();
  }
  void destroy(Batch* b) {
    if (b->images) alloc_.deallocate(b->images);
    if (b->soft_targets) alloc_.deallocate(b->soft_targets);
    delete b;
  }
  void release(Batch* b) {
    std::lock_guard lock(mutex_);
    free_.push_back(b);
  }

  HostAllocator alloc_;
  std::size_t image_floats_;
  std::size_t target_floats_;
  std::mutex mutex_;
  std::vector<Batch*> free_;
};

}  // namespace

struct Loader::Impl {
  const Dataset& data;
  LoaderOptions opt;
  const SoftLabels* soft;
  std::shared_ptr<BatchPool> pool;

  std::mutex mutex;
  std::condition_variable work_cv;   // workers wait for a batch to claim
  std::condition_variable ready_cv;  // the consumer waits for the next batch
  bool stop = false;
  std::uint64_t generation = 0;  // bumped by start_epoch so stale work is dropped
  std::uint64_t epoch = 0;
  std::shared_ptr<const std::vector<std::size_t>> order;
  std::size_t total = 0;
  std::size_t next_claim = 0;
  std::size_t next_deliver = 0;
  std::map<std::size_t, BatchPtr> ready;
  std::exception_ptr error;
  std::vector<std::thread> threads;

  Impl(const Dataset& d, LoaderOptions o, const SoftLabels* s) : data(d), opt(std::move(o)), soft(s) {}

  BatchPtr make_batch(const std::vector<std::size_t>& ord, std::uint64_t ep, std::size_t number) {
    const std::size_t start = number * opt.batch_size;
    const std::size_t count = std::min(opt.batch_size, ord.size() - start);
    std::shared_ptr<Batch> b = pool->acquire();
    b->size = count;
    b->height = data.height;
    b->width = data.width;
    b->channels = data.channels;
    b->classes = data.num_classes();
    b->epoch = ep;
    b->number = number;
    b->labels.resize(count);
    b->indices.resize(count);
    const std::size_t sb = data.sample_bytes();
    const auto nc = static_cast<std::size_t>(b->classes);
    for (std::size_t i = 0; i < count; ++i) {
      const std::size_t idx = ord[start + i];
      b->indices[i] = idx;
      b->labels[i] = data.labels[idx];
      if (opt.indices_only) continue;
      augment_sample(opt.augment, data.image(idx), data.height, data.width, data.channels,
                     {opt.seed, ep, idx}, opt.normalization, b->images + i * sb);
      float* target = b->soft_targets + i * nc;
      if (soft) {
        std::copy_n(soft->row(idx).data(), nc, target);
      } else {
        std::fill_n(target, nc, 0.0f);
        target[data.labels[idx]] = 1.0f;
      }
    }
    return b;
  }

  void worker() {
    std::unique_lock lock(mutex);
    for (;;) {
      work_cv.wait(lock, [&] {
        return stop || (order && next_claim < total && next_claim < next_deliver + opt.prefetch);
      });
      if (stop) return;
      const std::size_t number = next_claim++;
      const std::uint64_t gen = generation, ep = epoch;
      const auto ord = order;
      lock.unlock();
      BatchPtr batch;
      std::exception_ptr err;
      try {
        batch = make_batch(*ord, ep, number);
      } catch (...) {
        err = std::current_exception();
      }
      lock.lock();
      if (gen != generation) continue;
      if (err && !error) error = err;
      if (batch) ready.emplace(number, std::move(batch));
      ready_cv.notify_all();
    }
  }
};

Loader::Loader(const Dataset& data, LoaderOptions options, const SoftLabels* soft)
    : impl_(std::make_unique<Impl>(data, std::move(options), soft)) {
  Impl& m = *impl_;
  data.validate(data.name);
  if (m.opt.batch_size == 0) fail(data.name, "batch size must be positive");
  if (m.opt.prefetch == 0) fail(data.name, "prefetch must be positive");
  if (data.size() == 0) fail(data.name, "cannot load batches from an empty dataset");
  if (m.opt.normalization.mean.empty()) m.opt.normalization = Normalization::identity(data.channels);
  if (m.opt.normalization.channels() != data.channels)
    fail(data.name, "normalization has " + std::to_string(m.opt.normalization.channels()) +
                        " channels, the dataset " + std::to_string(data.channels));
  if (soft && (soft->rows != data.size() || soft->classes != data.num_classes()))
    fail(data.name, "soft labels are " + std::to_string(soft->rows) + " x " +
                        std::to_string(soft->classes) + ", dataset has " +
                        std::to_string(data.size()) + " samples of " +
                        std::to_string(data.num_classes()) + " classes");
  if (!m.opt.allocator.allocate || !m.opt.allocator.deallocate)
    fail(data.name, "allocator needs both allocate and deallocate");
  const std::size_t batches = m.opt.indices_only ? 0 : m.opt.batch_size;
  m.pool = std::make_shared<BatchPool>(m.opt.allocator, batches * data.sample_bytes(),
                                       batches * static_cast<std::size_t>(data.num_classes()));
  for (unsigned t = 0; t < m.opt.workers; ++t) m.threads.emplace_back([&m] { m.worker(); });
}

Loader::~Loader() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stop = true;
  }
  impl_->work_cv.notify_all();
  for (auto& t : impl_->threads) t.join();
}

std::size_t Loader::batches_per_epoch() const {
  const std::size_t n = impl_->data.size(), bs = impl_->opt.batch_size;
  return impl_->opt.drop_last ? n / bs : (n + bs - 1) / bs;
}

std::size_t Loader::batch_size() const { return impl_->opt.batch_size; }

std::vector<std::size_t> Loader::epoch_order(std::uint64_t epoch) const {
  // The order stream is keyed apart from the per-sample augmentation streams (index < 2^64-1).
  Rng rng(impl_->opt.seed, epoch, ~std::uint64_t{0});
  if (impl_->opt.shuffle) return permutation(impl_->data.size(), rng);
  std::vector<std::size_t> identity(impl_->data.size());
  for (std::size_t i = 0; i < identity.size(); ++i) identity[i] = i;
  return identity;
}

void Loader::start_epoch(std::uint64_t epoch) {
  auto order = std::make_shared<const std::vector<std::size_t>>(epoch_order(epoch));
  {
    std::lock_guard lock(impl_->mutex);
    ++impl_->generation;
    impl_->epoch = epoch;
    impl_->order = std::move(order);
    impl_->total = batches_per_epoch();
    impl_->next_claim = 0;
    impl_->next_deliver = 0;
    impl_->ready.clear();
    impl_->error = nullptr;
  }
  impl_->work_cv.notify_all();
}

BatchPtr Loader::next() {
  Impl& m = *impl_;
  std::unique_lock lock(m.mutex);
  if (!m.order) throw std::logic_error("Loader::next() called before start_epoch()");
  if (m.next_deliver == m.total) return nullptr;
  if (m.threads.empty()) {
    const std::size_t number = m.next_deliver++;
    lock.unlock();
    return m.make_batch(*m.order, m.epoch, number);
  }
  m.ready_cv.wait(lock, [&] { return m.error || m.ready.count(m.next_deliver) > 0; });
  if (m.error) std::rethrow_exception(m.error);
  auto it = m.ready.find(m.next_deliver);
  BatchPtr batch = std::move(it->second);
  m.ready.erase(it);
  ++m.next_deliver;
  m.work_cv.notify_all();
  return batch;
}

}  // namespace rf::data
