#include "ir/tensor.h"

#include <cstring>

#include "support/mapped_file.h"

namespace effopt {

std::shared_ptr<TensorStorage> TensorStorage::owned(std::vector<std::byte> bytes) {
  auto s = std::make_shared<TensorStorage>();
  s->owned_ = std::move(bytes);
  s->data_ = s->owned_.data();
  s->size_ = s->owned_.size();
  return s;
}

std::shared_ptr<TensorStorage> TensorStorage::view(std::shared_ptr<const MappedFile> file, uint64_t offset,
                                                   uint64_t size) {
  auto s = std::make_shared<TensorStorage>();
  s->data_ = file->data() + offset;
  s->size_ = size;
  s->offset_ = offset;
  s->file_ = std::move(file);
  return s;
}

const std::byte* TensorStorage::aligned_data() const {
  constexpr uintptr_t kAlign = alignof(std::max_align_t);
  if (reinterpret_cast<uintptr_t>(data_) % kAlign == 0) return data_;
  std::call_once(aligned_once_, [&] {
    aligned_copy_.reset(new std::byte[size_]);  // new[] aligns to max_align_t
    std::memcpy(aligned_copy_.get(), data_, size_);
  });
  return aligned_copy_.get();
}

std::optional<uint64_t> Tensor::element_count() const {
  // The product of the nonzero dims must fit, whatever their order and even
  // with a zero dim: code computing strides from the other dims relies on it.
  uint64_t n = 1;
  bool zero = false;
  for (int64_t d : dims) {
    if (d < 0) return std::nullopt;
    if (d == 0) { zero = true; continue; }
    if (n > static_cast<uint64_t>(INT64_MAX) / static_cast<uint64_t>(d)) return std::nullopt;
    n *= static_cast<uint64_t>(d);
  }
  return zero ? 0 : n;
}

}  // namespace effopt
