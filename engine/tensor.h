#pragma once
// A dense, contiguous float32 tensor on one device. Storage is reference-counted and may be shared
// by several tensors (views at an element offset), which is how all parameters of a model live in
// one flat buffer that the fused optimizer kernels update in a single pass.
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/device.h"

namespace rf {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& s);
std::string shape_str(const Shape& s);

class Storage {
 public:
  Storage(Backend& backend, size_t bytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Backend& backend() const { return backend_; }

 private:
  Backend& backend_;
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

class Tensor {
 public:
  Tensor() = default;  // undefined tensor

  // Uninitialized memory.
  static Tensor empty(const Shape& shape, Device device = Device::CPU);
  static Tensor zeros(const Shape& shape, Device device = Device::CPU);
  static Tensor full(const Shape& shape, float value, Device device = Device::CPU);
  static Tensor from_host(const std::vector<float>& values, const Shape& shape,
                          Device device = Device::CPU);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int64_t dim(int i) const;  // negative i counts from the end
  int ndim() const { return int(shape_.size()); }
  int64_t numel() const { return numel_; }
  DType dtype() const { return DType::F32; }
  Device device() const;
  Backend& backend() const;

  float* data() const;  // device pointer for CUDA tensors

  std::vector<float> to_host() const;
  float item() const;  // the value of a one-element tensor
  Tensor to(Device device) const;  // a copy on `device` (shares storage when already there)
  Tensor clone() const;
  // Writes into the storage (the handle itself is unchanged, hence const).
  void copy_from(const Tensor& src) const;  // same numel; any devices
  void fill_(float value) const;
  void zero_() const { fill_(0.f); }

  // Same storage, another shape with the same number of elements.
  Tensor reshape(const Shape& shape) const;
  // Same storage: `shape` elements starting `offset` elements into this tensor.
  Tensor view(int64_t offset, const Shape& shape) const;
  // True when both share storage (views of one buffer).
  bool shares_storage(const Tensor& o) const { return storage_ && storage_ == o.storage_; }
  // True when no other Tensor (view or copy of this handle) sees this storage: writing into it
  // then changes nothing anyone else reads.
  bool sole_owner() const { return storage_ && storage_.use_count() == 1; }

 private:
  Tensor(std::shared_ptr<Storage> storage, int64_t offset, Shape shape);
  std::shared_ptr<Storage> storage_;
  int64_t offset_ = 0;  // in elements
  Shape shape_;
  int64_t numel_ = 0;
};

}  // namespace rf
