// The one clock the cores and the addon time spins and deadlines with:
// CLOCK_MONOTONIC in nanoseconds (never jumps with the wall clock; a vDSO
// call, no system call). No Node dependency.
#pragma once

#include <cstdint>
#include <ctime>

namespace sunray {

inline int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace sunray
