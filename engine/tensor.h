#pragma once
// A dense, contiguous tensor on one device, of float32 or (activations under --precision bf16)
// bf16 elements. Storage is reference-counted and may be shared by several tensors (views at an
// element offset), which is how all parameters of a model live in one flat buffer that the fused
// optimizer kernels update in a single pass.
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
  static Tensor empty(const Shape& shape, Device device = Device::CPU, DType dtype = DType::F32);
  static Tensor zeros(const Shape& shape, Device device = Device::CPU, DType dtype = DType::F32);
  static Tensor full(const Shape& shape, float value, Device device = Device::CPU,
                     DType dtype = DType::F32);
  // bf16: the values rounded to nearest even.
  static Tensor from_host(const std::vector<float>& values, const Shape& shape,
                          Device device = Device::CPU, DType dtype = DType::F32);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int64_t dim(int i) const;  // negative i counts from the end
  int ndim() const { return int(shape_.size()); }
  int64_t numel() const { return numel_; }
  DType dtype() const { return dtype_; }
  Device device() const;
  Backend& backend() const;

  // Device pointers for CUDA tensors; each throws unless the tensor holds that element type.
  float* data() const;
  BF16* data_bf16() const;
  // data() or data_bf16() by type, for code written once for both.
  template <class T>
  T* data_as() const;

  std::vector<float> to_host() const;  // bf16 elements widened
  float item() const;  // the value of a one-element tensor
  Tensor to(Device device) const;  // a copy on `device` (shares storage when already there)
  Tensor clone() const;
  // Writes into the storage (the handle itself is unchanged, hence const).
  void copy_from(const Tensor& src) const;  // same numel and dtype; any devices
  void fill_(float value) const;             // bf16: the value rounded
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
  Tensor(std::shared_ptr<Storage> storage, int64_t offset, Shape shape, DType dtype);
  void* element_pointer() const;  // the first element, whatever its type
  std::shared_ptr<Storage> storage_;
  int64_t offset_ = 0;  // in elements
  Shape shape_;
  int64_t numel_ = 0;
  DType dtype_ = DType::F32;
};

template <>
inline float* Tensor::data_as<float>() const {
  return data();
}
template <>
inline BF16* Tensor::data_as<BF16>() const {
  return data_bf16();
}

}  // namespace rf
