// Helpers shared by the Store's implementation files (store.cc,
// store_space.cc, store_clients.cc, store_repair.cc); not part of its
// interface.
#pragma once

#include <cstdint>
#include <string>

#include "store/store.h"

namespace sunray::store {

inline constexpr int kEvictList = 0;  // non-primary copies: dropped when space is needed
inline constexpr int kSpillList = 1;  // primary copies: written to the spill directory

inline void crash_point(const char* point) {
  if (g_store_crash_point) g_store_crash_point(point);
}

inline std::string size_text(uint64_t n) { return std::to_string(n) + " bytes"; }

}  // namespace sunray::store
