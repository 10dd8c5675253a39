// The spin-before-sleep policy's decisions: see spin_policy.h.
#include "ipc/spin_policy.h"

#include <algorithm>

namespace sunray::ipc {

void SpinPolicy::configure(int64_t spin_ns, int64_t hot_window_ns) {
  spin_ns_ = spin_ns;
  hot_window_ns_ = hot_window_ns;
}

bool SpinPolicy::begin_spin() {
  if (skip_turns_ > 0) {
    --skip_turns_;
    return false;
  }
  ++spins_;
  return true;
}

void SpinPolicy::end_spin(bool found) {
  if (found) {
    ++spin_hits_;
    fail_streak_ = 0;
    return;
  }
  fail_streak_ = std::min(fail_streak_ + 1, kMaxFailStreak);
  skip_turns_ = (1 << fail_streak_) - 1;
}

}  // namespace sunray::ipc
