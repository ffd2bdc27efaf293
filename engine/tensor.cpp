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

Tensor::Tensor(std::shared_ptr<Storage> storage, int64_t offset, Shape shape, DType dtype)
    : storage_(std::move(storage)), offset_(offset), shape_(std::move(shape)),
      numel_(shape_numel(shape_)), dtype_(dtype) {}

Tensor Tensor::empty(const Shape& shape, Device device, DType dtype) {
  for (int64_t d : shape) RF_CHECK(d >= 0, "negative dimension in shape " << shape_str(shape));
  Backend& b = backend_for(device);
  return Tensor(std::make_shared<Storage>(b, size_t(shape_numel(shape)) * dtype_size(dtype)), 0,
                shape, dtype);
}

Tensor Tensor::zeros(const Shape& shape, Device device, DType dtype) {
  return full(shape, 0.f, device, dtype);
}

Tensor Tensor::full(const Shape& shape, float value, Device device, DType dtype) {
  Tensor t = empty(shape, device, dtype);
  t.fill_(value);
  return t;
}

Tensor Tensor::from_host(const std::vector<float>& values, const Shape& shape, Device device,
                         DType dtype) {
  RF_CHECK(int64_t(values.size()) == shape_numel(shape),
           values.size() << " values do not fill shape " << shape_str(shape));
  Tensor t = empty(shape, device, dtype);
  if (dtype == DType::F32) {
    t.backend().copy_from_host(t.data(), values.data(), values.size() * sizeof(float));
  } else {
    std::vector<BF16> rounded(values.size());
    for (size_t i = 0; i < values.size(); ++i) rounded[i] = float_to_bf16(values[i]);
    t.backend().copy_from_host(t.data_bf16(), rounded.data(), rounded.size() * sizeof(BF16));
  }
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

void* Tensor::element_pointer() const {
  RF_CHECK(defined(), "use of an undefined tensor");
  return static_cast<char*>(storage_->data()) + offset_ * int64_t(dtype_size(dtype_));
}

float* Tensor::data() const {
  RF_CHECK(dtype_ == DType::F32, "a " << dtype_name(dtype_) << " tensor " << shape_str(shape_)
                                      << " used where float32 is expected");
  return static_cast<float*>(element_pointer());
}

BF16* Tensor::data_bf16() const {
  RF_CHECK(dtype_ == DType::BF16, "a " << dtype_name(dtype_) << " tensor " << shape_str(shape_)
                                       << " used where bfloat16 is expected");
  return static_cast<BF16*>(element_pointer());
}

std::vector<float> Tensor::to_host() const {
  std::vector<float> out(static_cast<size_t>(numel_));
  if (!numel_) return out;
  if (dtype_ == DType::F32) {
    backend().copy_to_host(out.data(), data(), out.size() * sizeof(float));
  } else {
    std::vector<BF16> stored(out.size());
    backend().copy_to_host(stored.data(), data_bf16(), stored.size() * sizeof(BF16));
    for (size_t i = 0; i < out.size(); ++i) out[i] = bf16_to_float(stored[i]);
  }
  return out;
}

float Tensor::item() const {
  RF_CHECK(numel_ == 1, "item() of a tensor of shape " << shape_str(shape_));
  return to_host()[0];
}

Tensor Tensor::to(Device device) const {
  if (device == this->device()) return *this;
  Tensor t = empty(shape_, device, dtype_);
  t.copy_from(*this);
  return t;
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape_, device(), dtype_);
  t.copy_from(*this);
  return t;
}

void Tensor::copy_from(const Tensor& src) const {
  RF_CHECK(src.numel() == numel_, "copy of " << shape_str(src.shape()) << " into "
                                             << shape_str(shape_));
  RF_CHECK(src.dtype() == dtype_, "copy of a " << dtype_name(src.dtype()) << " tensor into a "
                                               << dtype_name(dtype_) << " one");
  const size_t bytes = size_t(numel_) * dtype_size(dtype_);
  if (!bytes) return;
  void* dst = element_pointer();
  const void* from = src.element_pointer();
  if (src.device() == device()) {
    backend().copy(dst, from, bytes);
  } else if (src.device() == Device::CPU) {
    backend().copy_from_host(dst, from, bytes);
  } else if (device() == Device::CPU) {
    src.backend().copy_to_host(dst, from, bytes);
  } else {
    RF_CHECK(false, "copy between two non-CPU devices is not supported");
  }
}

void Tensor::fill_(float value) const {
  if (!numel_) return;
  if (dtype_ == DType::F32) {
    backend().fill(numel_, value, data());
  } else {
    // Rare (tests, zero tensors): a host-made copy, not worth a bf16 kernel of its own.
    copy_from(from_host(std::vector<float>(size_t(numel_), value), shape_, Device::CPU, dtype_));
  }
}

Tensor Tensor::reshape(const Shape& shape) const {
  RF_CHECK(shape_numel(shape) == numel_,
           "cannot reshape " << shape_str(shape_) << " to " << shape_str(shape));
  return Tensor(storage_, offset_, shape, dtype_);
}

Tensor Tensor::view(int64_t offset, const Shape& shape) const {
  RF_CHECK(offset >= 0 && offset + shape_numel(shape) <= numel_,
           "view of " << shape_str(shape) << " at offset " << offset << " outside a tensor of "
                      << shape_str(shape_));
  return Tensor(storage_, offset_ + offset, shape, dtype_);
}

}  // namespace rf
