// When a reader that found its ring empty spins before it sleeps, and when it
// gives up trying: the policy the addon's Doorbell applies just before the
// event loop would block. Pure: the caller passes the time and the outcome of
// each spin, so a test drives it without clocks, threads or an event loop.
// No Node dependency.
//
// Spinning is on when setSpin gave it a budget. The reader then spins only
// while the channel is hot (a message arrived within the last hot window).
// After a spin that found nothing it skips the next 1, 3, 7, ... up to 63
// chances to spin (it sleeps at once instead): a channel whose replies take
// longer than the budget would only burn CPU that other processes may need.
// A spin that finds a message ends the backoff.
#pragma once

#include <cstdint>

namespace sunray::ipc {

class SpinPolicy {
 public:
  // Backoff doubles up to 2^kMaxFailStreak - 1 skipped turns.
  static constexpr int kMaxFailStreak = 6;

  // spin_ns: the budget of one spin (0 turns spinning off); hot_window_ns: how
  // long after a message the channel counts as hot. The backoff state stays.
  void configure(int64_t spin_ns, int64_t hot_window_ns);
  bool enabled() const { return spin_ns_ > 0; }
  int64_t budget_ns() const { return spin_ns_; }

  // A drain returned messages at now_ns (call only when enabled(): it keeps
  // the clock off the path when spinning is off).
  void on_message(int64_t now_ns) { hot_until_ns_ = now_ns + hot_window_ns_; }
  // The ring is empty at now_ns: leave sleep unannounced, so the loop's
  // prepare phase spins first?
  bool defer_sleep(int64_t now_ns) const { return spin_ns_ > 0 && now_ns < hot_until_ns_; }

  // The loop is about to block with the ring empty: spin this turn? false
  // while backing off (that uses up one skipped turn).
  bool begin_spin();
  // The outcome of the spin begin_spin() allowed: a message found or not.
  void end_spin(bool found);

  uint64_t spins() const { return spins_; }          // spins begun
  uint64_t spin_hits() const { return spin_hits_; }  // spins that found a message
  int skip_turns() const { return skip_turns_; }     // turns left to sleep at once

 private:
  int64_t spin_ns_ = 0;
  int64_t hot_window_ns_ = 0;
  int64_t hot_until_ns_ = 0;
  int fail_streak_ = 0;  // spins in a row that found nothing (capped)
  int skip_turns_ = 0;
  uint64_t spins_ = 0;
  uint64_t spin_hits_ = 0;
};

}  // namespace sunray::ipc
