#include "engine/tensor.h"

#include <sstream>

#include "engine/check.h"

namespace rf {

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << "]";
  return os.str();
}

Storage::Storage(Backend& backend, size_t bytes) : backend_(backend), bytes_(bytes) {
  data_ = bytes ? backend.allocate(bytes) : nullptr;
}

Storage::~Storage() {
  if (data_) backend_.deallocate(data_);
}

Tensor::Tensor(std::shared_ptr<Storage> storage, int64_t offset, Shape shape)
    : storage_(std::move(storage)), offset_(offset), shape_(std::move(shape)),
      numel_(shape_numel(shape_)) {}

Tensor Tensor::empty(const Shape& shape, Device device) {
  for (int64_t d : shape) RF_CHECK(d >= 0, "negative dimension in shape " << shape_str(shape));
  Backend& b = backend_for(device);
  return Tensor(std::make_shared<Storage>(b, size_t(shape_numel(shape)) * sizeof(float)), 0,
                shape);
}

Tensor Tensor::zeros(const Shape& shape, Device device) { return full(shape, 0.f, device); }

Tensor Tensor::full(const Shape& shape, float value, Device device) {
  Tensor t = empty(shape, device);
  t.fill_(value);
  return t;
}

Tensor Tensor::from_host(const std::vector<float>& values, const Shape& shape, Device device) {
  RF_CHECK(int64_t(values.size()) == shape_numel(shape),
           values.size() << " values do not fill shape " << shape_str(shape));
  Tensor t = empty(shape, device);
  t.backend().copy_from_host(t.data(), values.data(), values.size() * sizeof(float));
  return t;
}

int64_t Tensor::dim(int i) const {
  const int n = ndim();
  RF_CHECK(i >= -n && i < n, "dimension " << i << " out of range for shape " << shape_str(shape_));
  return shape_[i < 0 ? i + n : i];
}

Device Tensor::device() const {
  RF_CHECK(defined(), "use of an undefined tensor");
  return storage_->backend().device();
}

Backend& Tensor::backend() const {
  RF_CHECK(defined(), "use of an undefined tensor");
  return storage_->backend();
}

float* Tensor::data() const {
  RF_CHECK(defined(), "use of an undefined tensor");
  return static_cast<float*>(storage_->data()) + offset_;
}

std::vector<float> Tensor::to_host() const {
  std::vector<float> out(static_cast<size_t>(numel_));
  if (numel_) backend().copy_to_host(out.data(), data(), out.size() * sizeof(float));
  return out;
}

float Tensor::item() const {
  RF_CHECK(numel_ == 1, "item() of a tensor of shape " << shape_str(shape_));
  return to_host()[0];
}

Tensor Tensor::to(Device device) const {
  if (device == this->device()) return *this;
  Tensor t = empty(shape_, device);
  t.copy_from(*this);
  return t;
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape_, device());
  t.copy_from(*this);
  return t;
}

void Tensor::copy_from(const Tensor& src) const {
  RF_CHECK(src.numel() == numel_, "copy of " << shape_str(src.shape()) << " into "
                                             << shape_str(shape_));
  const size_t bytes = size_t(numel_) * sizeof(float);
  if (!bytes) return;
  if (src.device() == device()) {
    backend().copy(data(), src.data(), bytes);
  } else if (src.device() == Device::CPU) {
    backend().copy_from_host(data(), src.data(), bytes);
  } else if (device() == Device::CPU) {
    src.backend().copy_to_host(data(), src.data(), bytes);
  } else {
    RF_CHECK(false, "copy between two non-CPU devices is not supported");
  }
}

void Tensor::fill_(float value) const {
  if (numel_) backend().fill(numel_, value, data());
}

Tensor Tensor::reshape(const Shape& shape) const {
  RF_CHECK(shape_numel(shape) == numel_,
           "cannot reshape " << shape_str(shape_) << " to " << shape_str(shape));
  return Tensor(storage_, offset_, shape);
}

Tensor Tensor::view(int64_t offset, const Shape& shape) const {
  RF_CHECK(offset >= 0 && offset + shape_numel(shape) <= numel_,
           "view of " << shape_str(shape) << " at offset " << offset << " outside a tensor of "
                      << shape_str(shape_));
  return Tensor(storage_, offset_ + offset, shape);
}

}  // namespace rf
