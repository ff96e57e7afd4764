#include "support/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace effopt {

namespace {
Expected<std::vector<std::byte>> read_all(int fd, const std::string& name) {
  std::vector<std::byte> buf;
  size_t used = 0;
  for (;;) {
    if (buf.size() - used < (1u << 16)) buf.resize(std::max<size_t>(buf.size() * 2, 1u << 20));
    ssize_t n = ::read(fd, buf.data() + used, buf.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot read " + name + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  buf.resize(used);
  return buf;
}
}  // namespace

Expected<std::shared_ptr<MappedFile>> MappedFile::open(const std::string& path) {
  std::shared_ptr<MappedFile> f(new MappedFile());
  f->path_ = path;
  if (path == "-") {
    EFFOPT_TRY_ASSIGN(f->buffer_, read_all(STDIN_FILENO, "standard input"));
    f->data_ = f->buffer_.data();
    f->size_ = f->buffer_.size();
    return f;
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open " + path + ": " + std::strerror(errno));
  struct stat st{};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return io_error("cannot stat " + path + ": " + std::strerror(e));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return io_error(path + " is a directory, not a model file");
  }
  if (!S_ISREG(st.st_mode)) {  // pipe, device, process substitution
    auto bytes = read_all(fd, path);
    ::close(fd);
    if (!bytes) return std::move(bytes).error();
    f->buffer_ = std::move(*bytes);
    f->data_ = f->buffer_.data();
    f->size_ = f->buffer_.size();
    return f;
  }
  f->fd_ = fd;
  f->size_ = static_cast<uint64_t>(st.st_size);
  if (f->size_ == 0) return f;
  void* p = ::mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) return io_error("cannot map " + path + ": " + std::strerror(errno));
  ::madvise(p, f->size_, MADV_SEQUENTIAL);
  f->data_ = static_cast<const std::byte*>(p);
  f->mapped_ = true;
  return f;
}

std::shared_ptr<MappedFile> MappedFile::from_bytes(std::vector<std::byte> bytes, std::string name) {
  std::shared_ptr<MappedFile> f(new MappedFile());
  f->path_ = std::move(name);
  f->buffer_ = std::move(bytes);
  f->data_ = f->buffer_.data();
  f->size_ = f->buffer_.size();
  return f;
}

MappedFile::~MappedFile() {
  if (mapped_) ::munmap(const_cast<std::byte*>(data_), size_);
  if (fd_ >= 0) ::close(fd_);
}

void MappedFile::release(uint64_t offset, uint64_t len) const {
  if (!mapped_ || len == 0) return;
  static const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  // Only whole pages inside the range: neighbours may still be in use.
  uint64_t begin = (offset + page - 1) / page * page;
  uint64_t end = (offset + len) / page * page;
  if (end <= begin) return;
  ::madvise(const_cast<std::byte*>(data_) + begin, end - begin, MADV_DONTNEED);
}

}  // namespace effopt
