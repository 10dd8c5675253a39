// Helpers shared by the scheduler tests: shared anonymous memory that
// survives fork, and child process management.
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

}  // namespace sunray::testing
