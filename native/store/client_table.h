// Processes (and, in tests, threads) that use the store register a client
// slot: pid + process start time from /proc/<pid>/stat, so a reused pid is
// not mistaken for the dead client that had it.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace sunray::store {

constexpr uint32_t kDefaultMaxClients = 256;

struct ClientSlot {
  uint32_t active;
  int32_t pid;
  uint64_t start_time;  // clock ticks since boot (field 22 of /proc/<pid>/stat)
  // What reaping this client must undo. Kept exact under the arena lock and
  // rebuilt by repair: with both zero, a client's exit skips scanning the
  // object and pin tables, which on a large arena means touching many MiB of
  // shared pages (~200 ms for a 4 GiB store here).
  uint32_t unsealed;     // objects it created and has not sealed
  uint32_t pin_records;  // pin-table records it holds
};

// Field 22 of /proc/<pid>/stat, or 0 when the process does not exist.
uint64_t process_start_time(pid_t pid);
// Whether the process that registered (pid, start_time) still runs.
bool process_alive(pid_t pid, uint64_t start_time);

}  // namespace sunray::store
