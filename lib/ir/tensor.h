// Tensors of effopt's IR. Bytes are held by a TensorStorage that is either
// owned or a view into a memory-mapped file (the model or its external-data
// file), so weights flow from input to output without a copy unless a pass
// changes them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "ir/types.h"

namespace effopt {

class MappedFile;

// Raw little-endian tensor bytes, packed as ONNX raw_data (int4: two per byte).
class TensorStorage {
 public:
  static std::shared_ptr<TensorStorage> owned(std::vector<std::byte> bytes);
  static std::shared_ptr<TensorStorage> view(std::shared_ptr<const MappedFile> file, uint64_t offset, uint64_t size);

  const std::byte* data() const { return data_; }
  uint64_t size() const { return size_; }
  std::span<const std::byte> bytes() const { return {data_, static_cast<size_t>(size_)}; }
  // The bytes at an address aligned for any element type. Views into a file
  // are usually misaligned (protobuf puts raw_data anywhere); reading them as
  // typed values would be undefined behaviour, so a misaligned view is copied
  // once, on first use, to an aligned buffer. Writers use data() instead.
  const std::byte* aligned_data() const;
  // For views: the file and offset, so writers can copy file-to-file and
  // release pages after use. Null for owned storage.
  const MappedFile* file() const { return file_.get(); }
  uint64_t file_offset() const { return offset_; }
  // For views into a mapped file: gives the bytes' pages back to the page
  // cache (MappedFile::release), so a pass that reads a big weight once does
  // not keep it in the process's memory; a later read maps them in again.
  // No-op for owned storage.
  void release_file_pages() const;

 private:
  std::vector<std::byte> owned_;
  mutable std::once_flag aligned_once_;
  mutable std::unique_ptr<std::byte[]> aligned_copy_;
  std::shared_ptr<const MappedFile> file_;
  const std::byte* data_ = nullptr;
  uint64_t size_ = 0;
  uint64_t offset_ = 0;
};

// Where a tensor's bytes lived in the file it came from (kept so a model that
// used external data can be written the same way).
struct ExternalInfo {
  std::string location;
  uint64_t offset = 0;
  uint64_t length = 0;
  std::vector<std::pair<std::string, std::string>> extra;  // e.g. checksum
};

class Tensor {
 public:
  std::string name;
  std::string doc_string;
  DataType data_type = DataType::Undefined;
  std::vector<int64_t> dims;
  std::shared_ptr<TensorStorage> storage;  // all types but String
  std::vector<std::string> strings;        // String tensors
  std::optional<ExternalInfo> external;    // set when imported from external data
  // TensorProto.segment (begin, end), rare; kept for the round trip.
  std::optional<std::pair<int64_t, int64_t>> segment;

  // Number of elements; nullopt if a dim is negative or the product of the
  // nonzero dims overflows int64 (also when another dim is 0).
  std::optional<uint64_t> element_count() const;
  uint64_t byte_size() const { return storage ? storage->size() : 0; }
  std::span<const std::byte> bytes() const { return storage ? storage->bytes() : std::span<const std::byte>{}; }
  template <class T>
  std::span<const T> as() const {
    return {reinterpret_cast<const T*>(storage->aligned_data()), static_cast<size_t>(storage->size() / sizeof(T))};
  }
  // Replaces the contents (dims must already be set).
  void set_bytes(std::vector<std::byte> bytes) { storage = TensorStorage::owned(std::move(bytes)); }
};

using TensorPtr = std::shared_ptr<Tensor>;

// A sparse tensor: values (1-D) and indices ([NNZ] linear or [NNZ, rank]).
struct SparseTensor {
  Tensor values;
  Tensor indices;
  std::vector<int64_t> dims;
};

}  // namespace effopt
