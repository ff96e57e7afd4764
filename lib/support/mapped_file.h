// Read-only file contents: a memory mapping of a regular file, or an owned
// buffer (stdin, pipes). Tensors hold views into it; writers copy from it
// file-to-file when they can and release pages they are done with, so a model
// larger than RAM still streams.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "support/error.h"

namespace effopt {

class MappedFile {
 public:
  // Maps `path` ("-" reads stdin into memory).
  static Expected<std::shared_ptr<MappedFile>> open(const std::string& path);
  static std::shared_ptr<MappedFile> from_bytes(std::vector<std::byte> bytes, std::string name);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::byte* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // File descriptor of a mapped regular file (for copy_file_range), or -1.
  int fd() const { return fd_; }
  // Tells the kernel the pages of [offset, offset+len) are not needed any
  // more; a later read faults them back in from the page cache.
  void release(uint64_t offset, uint64_t len) const;

 private:
  MappedFile() = default;
  std::string path_;
  const std::byte* data_ = nullptr;
  uint64_t size_ = 0;
  int fd_ = -1;
  bool mapped_ = false;
  std::vector<std::byte> buffer_;
};

}  // namespace effopt
