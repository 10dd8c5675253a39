// Process identity from /proc/<pid>/stat and the parent-death signal: see
// proc.h. The one reader of /proc/<pid>/stat for the rings and the store.
#include "common/proc.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>

namespace sunray::proc {

uint64_t process_start_time(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[1024];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  // The command name may hold spaces and parentheses: count fields after the last ')'.
  const char* p = std::strrchr(buf, ')');
  if (!p || !p[1] || !p[2]) return 0;
  p += 2;                                             // ") S ..." -> field 3, the state
  if (*p == 'Z' || *p == 'X' || *p == 'x') return 0;  // zombie or dead: gone already
  for (int field = 3; field < 22; ++field) {
    p = std::strchr(p, ' ');
    if (!p) return 0;
    ++p;
  }
  uint64_t v = std::strtoull(p, nullptr, 10);
  return v == 0 ? 1 : v;  // never 0 for a live process: 0 means gone
}

bool process_alive(pid_t pid, uint64_t start_time) {
  // Cheap first: no such pid at all. EPERM (another user's process) reads /proc.
  if (kill(pid, 0) != 0 && errno == ESRCH) return false;
  uint64_t now = process_start_time(pid);
  return now != 0 && now == start_time;
}

Identity self_identity() {
  // Process-wide, keyed by pid: a child after fork() sees a pid that is not
  // the cached one and reads its own start time.
  static std::atomic<pid_t> cached_pid{0};
  static std::atomic<uint64_t> cached_start{0};
  const pid_t me = getpid();
  if (cached_pid.load(std::memory_order_acquire) == me) return {me, cached_start.load(std::memory_order_relaxed)};
  const uint64_t start = process_start_time(me);
  cached_start.store(start, std::memory_order_relaxed);
  cached_pid.store(me, std::memory_order_release);
  return {me, start};
}

bool die_with_parent(int sig, pid_t expected_parent) {
  if (prctl(PR_SET_PDEATHSIG, static_cast<unsigned long>(sig), 0UL, 0UL, 0UL) != 0)
    throw std::system_error(errno, std::generic_category(), "prctl(PR_SET_PDEATHSIG)");
  // Read after the request: a parent that dies from here on signals us; one that
  // died before has left us to another parent already.
  return getppid() == expected_parent;
}

int parent_death_signal() {
  int sig = 0;
  if (prctl(PR_GET_PDEATHSIG, &sig, 0UL, 0UL, 0UL) != 0)
    throw std::system_error(errno, std::generic_category(), "prctl(PR_GET_PDEATHSIG)");
  return sig;
}

}  // namespace sunray::proc
