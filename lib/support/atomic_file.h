// Atomic output files: data goes to a temporary file in the destination
// folder, renamed into place on commit. Uncommitted temporaries are removed
// on destruction and, through install_cleanup_handlers(), on SIGINT/SIGTERM.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "support/error.h"

namespace effopt {

class AtomicFile {
 public:
  // Creates the temporary file beside `path`. "-" writes to stdout directly,
  // and so does an existing device or FIFO (e.g. /dev/null).
  static Expected<std::unique_ptr<AtomicFile>> create(const std::string& path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  Status write(const void* data, uint64_t size);
  // Copies [offset, offset+size) of the file `src_fd` without going through
  // user space when the kernel can; returns false (nothing written) if it
  // cannot, so the caller writes from memory instead.
  Expected<bool> copy_from_fd(int src_fd, uint64_t offset, uint64_t size);
  // Renames into place (replacing an existing file).
  Status commit();
  const std::string& path() const { return path_; }
  uint64_t bytes_written() const { return written_; }

 private:
  AtomicFile() = default;
  std::string path_, tmp_path_;
  int fd_ = -1;
  bool is_stdout_ = false;
  bool direct_ = false;  // an existing device or FIFO, written in place
  bool committed_ = false;
  bool copy_ok_ = true;
  uint64_t written_ = 0;
  int slot_ = -1;
};

// Installs SIGINT/SIGTERM/SIGHUP handlers that unlink uncommitted temporary
// files and then re-raise the signal. Called once by tools/.
void install_cleanup_handlers();

}  // namespace effopt
