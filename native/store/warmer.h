// The warmer: background threads of the process that created the arena which keep a
// window of the data area, ahead of the highest offset the allocator has handed out,
// backed by pages written once (Store::back_range). Several threads, because the kernel
// backs pages about as fast per thread as one core allows and the host's first touch is
// what costs; each runs as SCHED_IDLE, so warming only takes CPU time no task wants. It
// never warms past the store's capacity.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "store/store.h"

namespace sunray::store {

class Warmer {
 public:
  // Warms up to `window` bytes ahead of use, `step` bytes per claim, with `threads` threads.
  Warmer(Store& store, uint64_t window, unsigned threads = kDefaultThreads, uint64_t step = kDefaultStep);
  ~Warmer();
  Warmer(const Warmer&) = delete;
  Warmer& operator=(const Warmer&) = delete;

  static constexpr uint64_t kDefaultStep = 4ull << 20;
  static constexpr unsigned kDefaultThreads = 2;
  // How often an idle warmer looks whether the allocator moved (any process may allocate).
  static constexpr int kIdlePollMs = 20;

 private:
  void run();
  // Publishes the backed ranges that now join the committed end (mu_ held).
  void publish_locked();

  Store& store_;
  const uint64_t window_;
  const uint64_t step_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool out_of_memory_ = false;         // the system refused to back more: stop warming
  uint64_t cursor_ = 0;                // the next offset to claim
  std::map<uint64_t, uint64_t> done_;  // backed ranges [from, to) not yet joined to the committed end
  std::vector<std::thread> threads_;
};

}  // namespace sunray::store
