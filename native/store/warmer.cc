// The warmer threads: see warmer.h. Threads claim consecutive steps under mu_, back them
// without it, and the committed end moves over every run of steps that joins it.
#include "store/warmer.h"

#include <sched.h>

#include <algorithm>
#include <chrono>

namespace sunray::store {

Warmer::Warmer(Store& store, uint64_t window, unsigned threads, uint64_t step)
    : store_(store), window_(window), step_(step == 0 ? kDefaultStep : step) {
  for (unsigned i = 0; i < std::max(1u, threads); ++i) threads_.emplace_back([this] { run(); });
}

Warmer::~Warmer() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void Warmer::publish_locked() {
  uint64_t from = store_.warmed_end();
  uint64_t end = from;
  while (!done_.empty() && done_.begin()->first <= end) {
    end = std::max(end, done_.begin()->second);
    done_.erase(done_.begin());
  }
  if (end > from) store_.advance_committed(from, end);
}

void Warmer::run() {
  // This thread only: sched_setscheduler(0, ...) applies to the calling thread on Linux.
  // Best effort: without it the thread runs at normal priority.
  sched_param param{};
  (void)sched_setscheduler(0, SCHED_IDLE, &param);
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    uint64_t target = 0;
    try {
      cursor_ = std::max(cursor_, store_.warmed_end());  // allocations may have committed past us
      target = store_.warm_target(window_);
    } catch (...) {
      return;  // the arena's lock failed (a wrecked store): nothing more to warm
    }
    if (out_of_memory_ || cursor_ >= target) {
      cv_.wait_for(lock, std::chrono::milliseconds(kIdlePollMs));
      continue;
    }
    uint64_t from = cursor_;
    uint64_t to = std::min(target, from + step_);
    cursor_ = to;
    lock.unlock();
    bool ok = store_.back_range(from, to);
    lock.lock();
    if (!ok) {
      out_of_memory_ = true;
      continue;
    }
    done_[from] = to;
    try {
      publish_locked();
    } catch (...) {
      return;
    }
  }
}

}  // namespace sunray::store
