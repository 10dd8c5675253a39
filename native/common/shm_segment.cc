// Creating, mapping and backing memfd segments: see shm_segment.h.
#include "common/shm_segment.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

namespace sunray {

namespace {
std::runtime_error sys_error(const std::string& what) { return std::runtime_error(what + ": " + std::strerror(errno)); }
}  // namespace

int ShmSegment::create_fd(const char* name, uint64_t size) {
  int fd = memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) throw sys_error("memfd_create");
  if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    throw sys_error("ftruncate of the shared-memory segment to " + std::to_string(size) + " bytes");
  }
  return fd;
}

ShmSegment ShmSegment::create(const char* name, uint64_t size) { return map_fd(create_fd(name, size), true, false); }

ShmSegment ShmSegment::attach_fd(int fd) {
  int own = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (own < 0) throw sys_error("cannot use fd " + std::to_string(fd) + " as a shared-memory segment");
  return map_fd(own, true, false);
}

ShmSegment ShmSegment::attach_path(const std::string& path) {
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) throw sys_error("cannot open shared-memory segment " + path);
  return map_fd(fd, true, false);
}

std::shared_ptr<ShmSegment> ShmSegment::shared_mapping(int fd) {
  // Per thread: each JS thread (worker_threads) has its own, so no lock.
  thread_local std::map<std::pair<dev_t, ino_t>, std::weak_ptr<ShmSegment>> cache;
  struct stat st {};
  if (fstat(fd, &st) != 0) throw sys_error("fstat of the shared-memory segment");
  auto key = std::make_pair(st.st_dev, st.st_ino);
  auto it = cache.find(key);
  if (it != cache.end()) {
    if (auto m = it->second.lock(); m && m->size() == static_cast<uint64_t>(st.st_size)) return m;
  }
  auto m = std::make_shared<ShmSegment>(map_fd(fd, false, true));
  cache[key] = m;
  for (auto i = cache.begin(); i != cache.end();) i = i->second.expired() ? cache.erase(i) : std::next(i);
  return m;
}

ShmSegment ShmSegment::map_fd(int fd, bool owned, bool populate) {
  auto fail = [&](const std::string& what) {
    int saved = errno;
    if (owned) close(fd);
    errno = saved;
    return sys_error(what);
  };
  struct stat st {};
  if (fstat(fd, &st) != 0) throw fail("fstat of the shared-memory segment");
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size == 0) {
    if (owned) close(fd);
    throw std::runtime_error("the shared-memory segment is empty (0 bytes)");
  }
  int flags = MAP_SHARED | (populate ? MAP_POPULATE : 0);
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, flags, fd, 0);
  if (p == MAP_FAILED) throw fail("mmap of the shared-memory segment");
  return ShmSegment(owned ? fd : -1, static_cast<uint8_t*>(p), size);
}

ShmSegment::ShmSegment(ShmSegment&& other) noexcept : fd_(other.fd_), base_(other.base_), size_(other.size_) {
  other.fd_ = -1;
  other.base_ = nullptr;
  other.size_ = 0;
}

ShmSegment& ShmSegment::operator=(ShmSegment&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = other.fd_;
    base_ = other.base_;
    size_ = other.size_;
    other.fd_ = -1;
    other.base_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

ShmSegment::~ShmSegment() { reset(); }

void ShmSegment::reset() {
  if (base_) munmap(base_, size_);
  if (fd_ >= 0) close(fd_);
  base_ = nullptr;
  fd_ = -1;
  size_ = 0;
}

std::string ShmSegment::proc_path() const { return "/proc/" + std::to_string(getpid()) + "/fd/" + std::to_string(fd_); }

int ShmSegment::allocate_backing(uint64_t offset, uint64_t len) const {
  if (len == 0) return 0;
  if (fallocate(fd_, 0, static_cast<off_t>(offset), static_cast<off_t>(len)) == 0) return 0;
  return errno;
}

void ShmSegment::prefault(uint64_t offset, uint64_t len) const {
  if (len == 0) return;
  long page = sysconf(_SC_PAGESIZE);
  uint64_t start = offset & ~static_cast<uint64_t>(page - 1);
  // Best effort: on kernels without MADV_POPULATE_WRITE the first write faults instead.
  (void)madvise(base_ + start, len + (offset - start), MADV_POPULATE_WRITE);
}

}  // namespace sunray
