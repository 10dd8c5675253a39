// A shared-memory segment backed by a memfd: nothing is left in /dev/shm when
// the processes using it die, and other processes attach through an inherited
// fd or the creator's /proc/<pid>/fd/<fd> path. The one place that creates,
// sizes and maps segments, for the object store's arena and the rings'
// segments alike. No Node dependency.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace sunray {

class ShmSegment {
 public:
  // A new memfd of `size` bytes (sparse: no page is allocated until written or fallocate()d).
  static ShmSegment create(const char* name, uint64_t size);
  // Maps the segment behind `fd` (which stays the caller's: we map a dup of it).
  static ShmSegment attach_fd(int fd);
  // Opens and maps a path such as /proc/<pid>/fd/<fd>.
  static ShmSegment attach_path(const std::string& path);
  // A new memfd of `size` bytes, not mapped: the fd is the caller's, to hand
  // to other processes and map with shared_mapping().
  static int create_fd(const char* name, uint64_t size);
  // The calling thread's one mapping of the file behind `fd` (keyed by device
  // and inode, not by fd number: fds are reused after close), shared by all
  // its users and unmapped when the last one lets go. The fd stays the
  // caller's and may be closed: the mapping alone keeps the memory. Its
  // pages are faulted in when first mapped (MAP_POPULATE), and fd() is -1.
  static std::shared_ptr<ShmSegment> shared_mapping(int fd);

  ShmSegment() = default;
  ShmSegment(ShmSegment&& other) noexcept;
  ShmSegment& operator=(ShmSegment&& other) noexcept;
  ShmSegment(const ShmSegment&) = delete;
  ShmSegment& operator=(const ShmSegment&) = delete;
  ~ShmSegment();

  uint8_t* base() const { return base_; }
  uint64_t size() const { return size_; }
  int fd() const { return fd_; }
  // /proc/<pid>/fd/<fd> of this process: another process on the node can open it while we live.
  std::string proc_path() const;

  // Backs [offset, offset+len) with real pages now, so a later write cannot SIGBUS.
  // Returns 0 or the errno (ENOSPC, ENOMEM, ...).
  int allocate_backing(uint64_t offset, uint64_t len) const;
  // Maps the page tables of [offset, offset+len) in this process (best effort).
  void prefault(uint64_t offset, uint64_t len) const;

 private:
  ShmSegment(int fd, uint8_t* base, uint64_t size) : fd_(fd), base_(base), size_(size) {}
  // Maps the file behind fd. owned: the segment keeps fd (and closes it on
  // failure); otherwise it keeps none.
  static ShmSegment map_fd(int fd, bool owned, bool populate);
  void reset();

  int fd_ = -1;
  uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace sunray
