#include "exec/tensor_value.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <new>
#include <unordered_map>

namespace effopt::exec {

size_t element_size(DataType t) {
  switch (t) {
    case DataType::Float: case DataType::Int32: case DataType::UInt32: return 4;
    case DataType::Double: case DataType::Int64: case DataType::UInt64: case DataType::Complex64: return 8;
    case DataType::Complex128: return 16;
    case DataType::Float16: case DataType::BFloat16: case DataType::Int16: case DataType::UInt16: return 2;
    case DataType::UInt8: case DataType::Int8: case DataType::Bool: case DataType::Float8E4M3FN:
    case DataType::Float8E4M3FNUZ: case DataType::Float8E5M2: case DataType::Float8E5M2FNUZ: return 1;
    // Unpacked inside the executor: one int8 (int4, sign-extended) or uint8 (uint4) per element.
    case DataType::Int4: case DataType::UInt4: return 1;
    default: return 0;
  }
}

uint64_t shape_size(const std::vector<int64_t>& dims) {
  uint64_t n = 1;
  for (int64_t d : dims) n *= static_cast<uint64_t>(d < 0 ? 0 : d);
  return n;
}

std::string dims_to_string(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? "," : "") + std::to_string(dims[i]);
  return s + "]";
}

namespace {
bool shape_size_overflows(const std::vector<int64_t>& dims) {
  uint64_t n = 1;
  for (int64_t d : dims) {
    if (d == 0) return false;
    if (n > (uint64_t{1} << 62) / static_cast<uint64_t>(d)) return true;
    n *= static_cast<uint64_t>(d);
  }
  return false;
}
struct AlignedFree {
  void operator()(void* p) const { ::operator delete(p, std::align_val_t(64)); }
};

// Large intermediate buffers are recycled instead of returned to the system:
// glibc serves allocations over 128 KiB with fresh mmap()ed pages, and the
// page faults of touching them again on every run cost more than many of
// the kernels (12% of a perf profile of mobilenet_v2; under 2% after). Size classes
// are 1/8 steps between powers of two (at most 12.5% slack); at most
// kPoolCap bytes stay cached, and a Session's destructor drops them all.
constexpr size_t kPoolMin = size_t{64} << 10;
constexpr size_t kPoolCap = size_t{512} << 20;

size_t size_class(size_t n) {
  size_t p = 1;
  while (p * 2 <= n) p *= 2;  // p <= n < 2p
  size_t step = p / 8;
  return (n + step - 1) / step * step;
}

struct BufferPool {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free;
  size_t cached = 0;

  void* take(size_t cls) {
    {
      std::lock_guard<std::mutex> lock(mu);
      auto it = free.find(cls);
      if (it != free.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        cached -= cls;
        return p;
      }
    }
    return ::operator new(cls, std::align_val_t(64));
  }
  void give(void* p, size_t cls) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (cached + cls <= kPoolCap) {
        free[cls].push_back(p);
        cached += cls;
        return;
      }
    }
    ::operator delete(p, std::align_val_t(64));
  }
  void clear() {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& [cls, v] : free)
      for (void* p : v) ::operator delete(p, std::align_val_t(64));
    free.clear();
    cached = 0;
  }
};

BufferPool& pool() {
  static BufferPool* p = new BufferPool();  // never destroyed: buffers may outlive static destruction order
  return *p;
}

struct PoolFree {
  size_t cls;
  void operator()(void* p) const { pool().give(p, cls); }
};
}  // namespace

void release_cached_buffers() { pool().clear(); }

TensorValue TensorValue::allocate(DataType dtype, std::vector<int64_t> dims) {
  TensorValue v;
  v.dtype_ = dtype;
  v.count_ = shape_size(dims);
  v.dims_ = std::move(dims);
  size_t es = element_size(dtype);
  // Shapes past 2^46 bytes cannot be real; refuse them like a failed allocation.
  for (int64_t d : v.dims_)
    if (d < 0) throw std::bad_alloc();
  // A type without a fixed element size (string) reaching a kernel that
  // stores packed elements: the kernel does not support it (not memory).
  if (es == 0) throw UnsupportedElementType(dtype);
  if (v.count_ && (v.count_ > (uint64_t{1} << 46) / es || shape_size_overflows(v.dims_))) throw std::bad_alloc();
  v.bytes_ = v.count_ * es;
  size_t alloc = static_cast<size_t>(v.bytes_ ? v.bytes_ : 1);
  void* p;
  if (alloc >= kPoolMin) {
    size_t cls = size_class(alloc);
    p = pool().take(cls);
    v.keep_ = std::shared_ptr<void>(p, PoolFree{cls});
  } else {
    p = ::operator new(alloc, std::align_val_t(64));
    v.keep_ = std::shared_ptr<void>(p, AlignedFree{});
  }
  v.data_ = static_cast<std::byte*>(p);
  return v;
}

TensorValue TensorValue::from_bytes(DataType dtype, std::vector<int64_t> dims, std::span<const std::byte> bytes) {
  TensorValue v = allocate(dtype, std::move(dims));
  assert(bytes.size() == v.bytes_);
  if (v.bytes_) std::memcpy(v.data_, bytes.data(), static_cast<size_t>(v.bytes_));
  return v;
}

TensorValue TensorValue::from_strings(std::vector<int64_t> dims, std::vector<std::string> strings) {
  TensorValue v;
  v.dtype_ = DataType::String;
  v.count_ = shape_size(dims);
  v.dims_ = std::move(dims);
  assert(strings.size() == v.count_);
  v.strings_ = std::make_shared<const std::vector<std::string>>(std::move(strings));
  return v;
}

const std::vector<std::string>& TensorValue::strings() const {
  static const std::vector<std::string> none;
  return strings_ ? *strings_ : none;
}

Expected<TensorValue> TensorValue::from_tensor(const Tensor& t) {
  if (is_4bit(t.data_type)) return unpack_4bit(t);
  if (t.data_type == DataType::String) {
    for (int64_t d : t.dims)
      if (d < 0) return invalid_model("tensor '" + t.name + "' has a negative dimension");
    if (t.strings.size() != shape_size(t.dims))
      return invalid_model("string tensor '" + t.name + "' holds " + std::to_string(t.strings.size()) +
                           " strings, its dims " + dims_to_string(t.dims) + " need " + std::to_string(shape_size(t.dims)));
    return from_strings(t.dims, t.strings);
  }
  size_t es = element_size(t.data_type);
  if (es == 0)
    return invalid_model("tensor '" + t.name + "': element type " + data_type_name(t.data_type) +
                         " is not supported by the executor");
  for (int64_t d : t.dims)
    if (d < 0) return invalid_model("tensor '" + t.name + "' has a negative dimension");
  uint64_t count = shape_size(t.dims);
  if (t.byte_size() != count * es)
    return invalid_model("tensor '" + t.name + "' holds " + std::to_string(t.byte_size()) + " bytes, its type and dims " +
                         dims_to_string(t.dims) + " need " + std::to_string(count * es));
  const std::byte* p = t.storage ? t.storage->data() : nullptr;
  if (!p || reinterpret_cast<uintptr_t>(p) % es != 0) {
    return from_bytes(t.data_type, t.dims, t.bytes());
  }
  TensorValue v;
  v.dtype_ = t.data_type;
  v.dims_ = t.dims;
  v.count_ = count;
  v.bytes_ = count * es;
  v.keep_ = t.storage;
  v.data_ = const_cast<std::byte*>(p);  // never written: views are inputs only
  v.view_ = true;
  return v;
}

Expected<TensorValue> TensorValue::unpack_4bit(const Tensor& t) {
  for (int64_t d : t.dims)
    if (d < 0) return invalid_model("tensor '" + t.name + "' has a negative dimension");
  uint64_t count = shape_size(t.dims);
  uint64_t need = packed_byte_size(t.data_type, count);
  if (t.byte_size() != need)
    return invalid_model("tensor '" + t.name + "' holds " + std::to_string(t.byte_size()) + " bytes, its type and dims " +
                         dims_to_string(t.dims) + " need " + std::to_string(need));
  TensorValue v = allocate(t.data_type, t.dims);
  const uint8_t* src = reinterpret_cast<const uint8_t*>(t.bytes().data());
  uint8_t* dst = v.mutable_data<uint8_t>();
  bool sign = t.data_type == DataType::Int4;
  for (uint64_t i = 0; i < count; ++i) {
    uint8_t nib = (src[i / 2] >> (i % 2 ? 4 : 0)) & 0xF;
    dst[i] = sign && nib >= 8 ? static_cast<uint8_t>(nib | 0xF0) : nib;  // sign-extend: int8 bit pattern
  }
  return v;
}

TensorValue TensorValue::reshaped(std::vector<int64_t> dims) const {
  TensorValue v = *this;
  assert(shape_size(dims) == count_);
  v.dims_ = std::move(dims);
  return v;
}

Tensor TensorValue::to_tensor(const std::string& name) const {
  Tensor t;
  t.name = name;
  t.data_type = dtype_;
  t.dims = dims_;
  if (is_4bit(dtype_)) {  // pack again, two per byte, low nibble first (ONNX's raw_data layout)
    std::vector<std::byte> b(static_cast<size_t>(packed_byte_size(dtype_, count_)), std::byte{0});
    const uint8_t* p = reinterpret_cast<const uint8_t*>(data_);
    for (uint64_t i = 0; i < count_; ++i)
      b[i / 2] |= static_cast<std::byte>((p[i] & 0xF) << (i % 2 ? 4 : 0));
    t.set_bytes(std::move(b));
    return t;
  }
  if (dtype_ == DataType::String) {
    t.strings = strings();
    return t;
  }
  std::vector<std::byte> b(static_cast<size_t>(bytes_));
  if (bytes_) std::memcpy(b.data(), data_, b.size());
  t.set_bytes(std::move(b));
  return t;
}

std::vector<double> to_doubles(const TensorValue& t) {
  std::vector<double> out(static_cast<size_t>(t.element_count()));
  // int4/uint4 are unpacked here: one int8 / uint8 per element.
  DataType stored = t.dtype() == DataType::Int4 ? DataType::Int8 : t.dtype() == DataType::UInt4 ? DataType::UInt8 : t.dtype();
  if (!decode_doubles(stored, {t.raw(), static_cast<size_t>(t.byte_size())}, out))
    std::fill(out.begin(), out.end(), std::numeric_limits<double>::quiet_NaN());
  return out;
}

Expected<std::vector<int64_t>> broadcast_shapes(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  size_t r = std::max(a.size(), b.size());
  std::vector<int64_t> out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da == db || db == 1) out[i] = da;
    else if (da == 1) out[i] = db;
    else
      return invalid_model("shapes " + dims_to_string(a) + " and " + dims_to_string(b) + " do not broadcast");
  }
  return out;
}

std::vector<int64_t> broadcast_strides(const std::vector<int64_t>& in_dims, const std::vector<int64_t>& out_dims) {
  std::vector<int64_t> s(out_dims.size(), 0);
  int64_t stride = 1;
  size_t off = out_dims.size() - in_dims.size();
  for (size_t i = in_dims.size(); i-- > 0;) {
    s[i + off] = in_dims[i] == 1 ? 0 : stride;
    stride *= in_dims[i];
  }
  return s;
}

}  // namespace effopt::exec
