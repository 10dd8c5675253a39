#include "store/client_table.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

namespace sunray::store {

namespace {
// Reads the state letter (field 3) and start time (field 22) of /proc/<pid>/stat.
bool read_stat(pid_t pid, char* state, uint64_t* start_time) {
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[1024];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = 0;
  // The command name may hold spaces and parentheses: count fields after the last ')'.
  char* p = std::strrchr(buf, ')');
  if (!p || !p[1] || !p[2]) return false;
  p += 2;  // ") " -> field 3 (state)
  *state = *p;
  for (int field = 3; field < 22 && *p; ++field) {
    p = std::strchr(p, ' ');
    if (!p) return false;
    ++p;
  }
  *start_time = std::strtoull(p, nullptr, 10);
  return true;
}
}  // namespace

uint64_t process_start_time(pid_t pid) {
  char state = 0;
  uint64_t start = 0;
  return read_stat(pid, &state, &start) ? start : 0;
}

bool process_alive(pid_t pid, uint64_t start_time) {
  if (kill(pid, 0) != 0 && errno == ESRCH) return false;
  char state = 0;
  uint64_t now = 0;
  if (!read_stat(pid, &state, &now)) return false;
  // A zombie (killed, not yet waited for) keeps its /proc entry but has dropped its mapping and pins.
  if (state == 'Z' || state == 'X') return false;
  return now == start_time;
}

}  // namespace sunray::store
