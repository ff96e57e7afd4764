#include "support/atomic_file.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace effopt {

namespace {

// Fixed slots readable from a signal handler (no allocation there).
constexpr int kSlots = 16;
constexpr size_t kPathMax = 4096;
char g_tmp_paths[kSlots][kPathMax];
std::atomic<bool> g_slot_used[kSlots];

int claim_slot(const std::string& p) {
  if (p.size() >= kPathMax) return -1;
  for (int i = 0; i < kSlots; ++i) {
    bool expected = false;
    if (g_slot_used[i].compare_exchange_strong(expected, true)) {
      std::memcpy(g_tmp_paths[i], p.c_str(), p.size() + 1);
      return i;
    }
  }
  return -1;
}

void release_slot(int i) {
  if (i < 0) return;
  g_tmp_paths[i][0] = '\0';
  g_slot_used[i].store(false);
}

extern "C" void cleanup_handler(int sig) {
  for (int i = 0; i < kSlots; ++i)
    if (g_slot_used[i].load() && g_tmp_paths[i][0]) ::unlink(g_tmp_paths[i]);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

std::string describe_errno(int e) {
  if (e == ENOSPC) return "no space left on the device";
  if (e == EDQUOT) return "disk quota exceeded";
  return std::strerror(e);
}

}  // namespace

void install_cleanup_handlers() {
  struct sigaction sa{};
  sa.sa_handler = cleanup_handler;
  sigemptyset(&sa.sa_mask);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(s, &sa, nullptr);
}

Expected<std::unique_ptr<AtomicFile>> AtomicFile::create(const std::string& path) {
  std::unique_ptr<AtomicFile> f(new AtomicFile());
  f->path_ = path;
  if (path == "-") {
    f->is_stdout_ = true;
    f->fd_ = STDOUT_FILENO;
    return f;
  }
  // A device or pipe (/dev/null, a FIFO): written directly. There is nothing
  // to replace atomically, and renaming a temporary over it would replace
  // the device node itself.
  struct stat st{};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return io_error("cannot write " + path + ": " + describe_errno(errno));
    f->fd_ = fd;
    f->direct_ = true;
    return f;
  }
  namespace fs = std::filesystem;
  fs::path p(path);
  fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return io_error("cannot write " + path + ": folder " + dir.string() + " does not exist");
  std::string tmpl = (dir / ("." + p.filename().string() + ".effopt-tmp-XXXXXX")).string();
  // Hold the cleanup signals until the handler knows the temporary: one
  // arriving between mkstemp and claim_slot would leave the file behind.
  sigset_t cleanup_signals, old_mask;
  sigemptyset(&cleanup_signals);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&cleanup_signals, s);
  ::pthread_sigmask(SIG_BLOCK, &cleanup_signals, &old_mask);
  int fd = ::mkstemp(tmpl.data());
  int mkstemp_errno = errno;
  if (fd >= 0) f->slot_ = claim_slot(tmpl);
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  if (fd < 0) return io_error("cannot write " + path + ": " + describe_errno(mkstemp_errno));
  ::fchmod(fd, 0644 & ~[] { mode_t m = ::umask(0); ::umask(m); return m; }());
  f->fd_ = fd;
  f->tmp_path_ = tmpl;
  return f;
}

AtomicFile::~AtomicFile() {
  if (is_stdout_) return;
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !tmp_path_.empty()) ::unlink(tmp_path_.c_str());
  release_slot(slot_);
}

Status AtomicFile::write(const void* data, uint64_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    size_t step = static_cast<size_t>(std::min<uint64_t>(size, 1u << 30));
    ssize_t n = ::write(fd_, p, step);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot write " + path_ + ": " + describe_errno(errno));
    }
    p += n;
    size -= static_cast<uint64_t>(n);
    written_ += static_cast<uint64_t>(n);
  }
  return ok();
}

Expected<bool> AtomicFile::copy_from_fd(int src_fd, uint64_t offset, uint64_t size) {
  if (!copy_ok_ || is_stdout_ || src_fd < 0) return false;
  loff_t off = static_cast<loff_t>(offset);
  uint64_t done = 0;
  while (done < size) {
    ssize_t n = ::copy_file_range(src_fd, &off, fd_, nullptr, static_cast<size_t>(std::min<uint64_t>(size - done, 1u << 30)), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (done == 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP || errno == EBADF)) {
        copy_ok_ = false;  // this pair of files cannot: stop trying
        return false;
      }
      return io_error("cannot write " + path_ + ": " + describe_errno(errno));
    }
    if (n == 0) return io_error("cannot write " + path_ + ": source file shrank while reading");
    done += static_cast<uint64_t>(n);
    written_ += static_cast<uint64_t>(n);
  }
  return true;
}

Status AtomicFile::commit() {
  if (is_stdout_) return ok();
  // No fsync: a rename without it is atomic against other readers and
  // effopt's own failures, which is what users need; durability across a
  // power loss is the file system's business (cp does not fsync either).
  if (::close(fd_) != 0) {
    fd_ = -1;
    return io_error("cannot write " + path_ + ": " + describe_errno(errno));
  }
  fd_ = -1;
  if (direct_) {
    committed_ = true;
    return ok();
  }
  if (::rename(tmp_path_.c_str(), path_.c_str()) != 0)
    return io_error("cannot move the output into place at " + path_ + ": " + describe_errno(errno));
  committed_ = true;
  return ok();
}

}  // namespace effopt
