// Helpers shared by the store tests.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <string>

#include "store/store.h"
#include "tests/check.h"

namespace sunray::store::testutil {

inline ObjectId make_id(uint64_t n) {
  ObjectId id;
  // A shared prefix, like task-return ids: the hash must not depend on the first bytes.
  for (size_t i = 0; i < 20; ++i) id.bytes[i] = 0xAB;
  for (size_t i = 0; i < 8; ++i) id.bytes[20 + i] = static_cast<uint8_t>(n >> (8 * i));
  return id;
}

// A fresh 0700 directory (the store spills into a directory it is given, never makes one).
inline std::string temp_spill_dir(const char* name) {
  std::string dir = std::string("/tmp/sunray-test-spill-") + name + "-" + std::to_string(getpid());
  std::string cmd = "rm -rf '" + dir + "'";
  (void)std::system(cmd.c_str());
  CHECK(mkdir(dir.c_str(), 0700) == 0);
  return dir;
}

inline void remove_dir(const std::string& dir) {
  std::string cmd = "rm -rf '" + dir + "'";
  (void)std::system(cmd.c_str());
}

inline void check_store(Store& s) {
  std::string why;
  if (!s.check(&why)) {
    std::fprintf(stderr, "store check failed: %s\n", why.c_str());
    std::exit(1);
  }
}

// Fills an object with a pattern derived from its number.
inline void fill(uint8_t* p, uint64_t n, uint64_t seed) {
  for (uint64_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(seed * 131 + i * 7);
}
inline bool verify(const uint8_t* p, uint64_t n, uint64_t seed) {
  for (uint64_t i = 0; i < n; ++i)
    if (p[i] != static_cast<uint8_t>(seed * 131 + i * 7)) return false;
  return true;
}

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kScale = 4;  // sanitized builds are slower: do less
#else
constexpr int kScale = 1;
#endif

}  // namespace sunray::store::testutil
