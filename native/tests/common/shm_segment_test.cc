// Shared-memory segments: a memfd created for another process to map, and the
// per-thread shared mapping the rings use: one mapping per file however many
// fds name it, memory that outlives the caller's fd, a fresh mapping once the
// last user let go, and clear errors for an empty or a bad fd.
#include "common/shm_segment.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <thread>

#include "tests/check.h"

using sunray::ShmSegment;

TEST(create_fd_sizes_a_memfd_the_caller_owns) {
  int fd = ShmSegment::create_fd("shm_segment_test", 3 * 4096);
  CHECK(fd >= 0);
  CHECK_EQ(lseek(fd, 0, SEEK_END), off_t(3 * 4096));
  auto m = ShmSegment::shared_mapping(fd);
  CHECK_EQ(m->size(), uint64_t(3 * 4096));
  CHECK_EQ(m->fd(), -1);  // the mapping keeps no fd of its own
  CHECK(close(fd) == 0);  // ... so the caller's fd is still the caller's to close
}

TEST(one_mapping_per_file_per_thread) {
  int fd = ShmSegment::create_fd("shm_segment_test", 4096);
  int dup_fd = dup(fd);
  int other = ShmSegment::create_fd("shm_segment_test", 4096);
  auto a = ShmSegment::shared_mapping(fd);
  auto b = ShmSegment::shared_mapping(dup_fd);  // another fd, the same file
  auto c = ShmSegment::shared_mapping(other);
  CHECK(a.get() == b.get());
  CHECK(a.get() != c.get());
  std::shared_ptr<ShmSegment> from_thread;
  std::thread([&] { from_thread = ShmSegment::shared_mapping(fd); }).join();
  CHECK(from_thread.get() != a.get());  // each thread maps for itself
  std::memcpy(a->base(), "hello", 6);
  CHECK(std::memcmp(from_thread->base(), "hello", 6) == 0);  // ... the same memory
  for (int f : {fd, dup_fd, other}) close(f);
}

TEST(memory_outlives_the_fd_and_is_mapped_again_after_release) {
  int fd = ShmSegment::create_fd("shm_segment_test", 4096);
  auto a = ShmSegment::shared_mapping(fd);
  std::memcpy(a->base(), "kept", 5);
  int again = dup(fd);
  close(fd);  // the fd is gone; the mapping keeps the memory
  CHECK(std::memcmp(a->base(), "kept", 5) == 0);
  std::weak_ptr<ShmSegment> weak = a;
  a.reset();
  CHECK(weak.expired());  // the last user let go: unmapped
  auto b = ShmSegment::shared_mapping(again);
  CHECK(std::memcmp(b->base(), "kept", 5) == 0);
  close(again);
}

TEST(another_process_sees_the_writes) {
  int fd = ShmSegment::create_fd("shm_segment_test", 4096);
  auto m = ShmSegment::shared_mapping(fd);
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    ShmSegment own = ShmSegment::attach_fd(fd);
    std::memcpy(own.base(), "child", 6);
    _exit(0);
  }
  int status = 0;
  CHECK(waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK(std::memcmp(m->base(), "child", 6) == 0);
  close(fd);
}

TEST(empty_and_bad_fds_are_refused) {
  int empty = ShmSegment::create_fd("shm_segment_test", 0);
  CHECK_THROWS(ShmSegment::shared_mapping(empty));
  CHECK_THROWS(ShmSegment::attach_fd(empty));
  close(empty);
  CHECK_THROWS(ShmSegment::shared_mapping(-1));
  bool said_why = false;
  try {
    ShmSegment::shared_mapping(-1);
  } catch (const std::exception& e) {
    said_why = std::strstr(e.what(), "fstat") != nullptr;
  }
  CHECK(said_why);
}

TEST_MAIN()
