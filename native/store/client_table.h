// The client table's slot, in shared memory: processes (and, in tests,
// threads) that use the store register one with their identity, pid + start
// time (common/proc.h), so a reused pid is not mistaken for the dead client
// that had it. Store::register_client and the reaping are store_clients.cc.
#pragma once

#include <cstdint>

namespace sunray::store {

constexpr uint32_t kDefaultMaxClients = 256;

struct ClientSlot {
  uint32_t active;
  int32_t pid;
  uint64_t start_time;  // proc::process_start_time of pid when it registered
  // What reaping this client must undo. Kept exact under the arena lock and
  // rebuilt by repair: with both zero, a client's exit skips scanning the
  // object and pin tables, which on a large arena means touching many MiB of
  // shared pages (~200 ms for a 4 GiB store here).
  uint32_t unsealed;     // objects it created and has not sealed
  uint32_t pin_records;  // pin-table records it holds
};

}  // namespace sunray::store
