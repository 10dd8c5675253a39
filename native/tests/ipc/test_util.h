// Helpers shared by the ipc tests: shared anonymous memory that survives
// fork, a ring-sized region of it, string push/pop, and child processes.
#pragma once

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "ipc/ring.h"
#include "tests/check.h"

namespace sunray::testing {

inline void* shared_region(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(p != MAP_FAILED);
  return p;
}

template <class F>
pid_t fork_child(F&& body) {
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // a failing parent must not leave spinning children
    if (getppid() == 1) _exit(1);
    body();
    _exit(0);
  }
  return pid;
}

inline int wait_child(pid_t pid) {
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  return status;
}

inline void check_child_ok(pid_t pid) {
  int status = wait_child(pid);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "child %d failed: status %d\n", static_cast<int>(pid), status);
    std::exit(1);
  }
}

inline double now_us() {
  using namespace std::chrono;
  return duration<double, std::micro>(steady_clock::now().time_since_epoch()).count();
}

// A shared anonymous region sized for a ring of that geometry.
struct Region {
  void* p;
  size_t n;
  Region(uint32_t slots, uint32_t slot_size, uint32_t parts = ipc::kDefaultParticipants,
         uint32_t hold = ipc::kDefaultHoldBytes)
      : n(ipc::Ring::bytes_needed(slots, slot_size, parts, hold)) {
    p = shared_region(n);
  }
  ~Region() { munmap(p, n); }
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;
};

inline std::string pop_str(ipc::Ring& r, ipc::PopStatus* st = nullptr) {
  std::vector<char> buf(r.max_payload());
  size_t n = 0;
  ipc::PopStatus s = r.try_pop(buf.data(), buf.size(), &n);
  if (st) *st = s;
  if (s != ipc::PopStatus::kOk) return "<none>";
  return std::string(buf.data(), n);
}

inline bool push_str(ipc::Ring& r, const std::string& s) { return r.try_push(s.data(), s.size()); }

}  // namespace sunray::testing
