#include "ir/tensor.h"
#include "ir/sparse_tensor.h"

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

void TensorStorage::release_file_pages() const {
  if (file_) file_->release(offset_, size_);
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

TensorPtr densify(const SparseTensor& s, std::string* why) {
  auto fail = [&](std::string m) -> TensorPtr {
    *why = std::move(m);
    return nullptr;
  };
  int bits = data_type_bits(s.values.data_type);
  if (bits < 8 || bits % 8) return fail("values of a type without a whole number of bytes per element");
  size_t es = static_cast<size_t>(bits / 8);
  uint64_t total = 1;
  for (int64_t d : s.dims) {
    if (d < 0) return fail("a negative dim");
    total *= static_cast<uint64_t>(d);
    if (total > (uint64_t{1} << 32)) return fail("more than 2^32 elements");
  }
  if (s.values.dims.size() != 1) return fail("values are not 1-D");
  uint64_t nnz = static_cast<uint64_t>(s.values.dims[0]);
  if (s.values.byte_size() != nnz * es) return fail("values hold " + std::to_string(s.values.byte_size()) + " bytes");
  if (s.indices.data_type != DataType::Int64) return fail("indices are not INT64");
  bool linear = s.indices.dims.size() == 1;
  size_t rank = s.dims.size();
  if (!(linear || (s.indices.dims.size() == 2 && static_cast<size_t>(s.indices.dims[1]) == rank)) ||
      static_cast<uint64_t>(s.indices.dims[0]) != nnz)
    return fail("indices are neither [NNZ] nor [NNZ, rank]");
  uint64_t per = linear ? 1 : rank;
  if (s.indices.byte_size() != nnz * per * 8) return fail("indices hold " + std::to_string(s.indices.byte_size()) + " bytes");
  std::vector<std::byte> out(total * es);
  const std::byte* ip = s.indices.bytes().data();
  const std::byte* vp = s.values.bytes().data();
  for (uint64_t i = 0; i < nnz; ++i) {
    uint64_t pos = 0;
    for (uint64_t k = 0; k < per; ++k) {
      int64_t x;
      std::memcpy(&x, ip + (i * per + k) * 8, 8);
      uint64_t dim = linear ? total : static_cast<uint64_t>(s.dims[k]);
      if (x < 0 || static_cast<uint64_t>(x) >= dim) return fail("index " + std::to_string(x) + " out of range");
      pos = pos * (linear ? 1 : dim) + static_cast<uint64_t>(x);
    }
    std::memcpy(out.data() + pos * es, vp + i * es, es);
  }
  auto t = std::make_shared<Tensor>();
  t->name = s.values.name;
  t->data_type = s.values.data_type;
  t->dims = s.dims;
  t->set_bytes(std::move(out));
  return t;
}

}  // namespace effopt
