// Wake-ups only when someone sleeps. The ring header holds one word,
// `sleeping`, with a bit per kind of sleeper (kSleepFutex, kSleepEventfd).
//
// Consumer:  drain; prepare_sleep(mode) sets its bit (seq_cst RMW) and
//            re-reads the ring (seq_cst loads). Empty -> really sleep (futex
//            wait on the word / poll the eventfd). Not empty -> drain again.
// Producer:  publish (seq_cst store of the slot word, see Ring), then
//            notify(): load `sleeping` (seq_cst); only if non-zero exchange it
//            with 0 and wake whichever kinds of sleeper were announced.
// No lost wake-up: both sides write then read (Dekker) with seq_cst, so in the
// single total order either the consumer's re-check sees the message or the
// producer's load sees the bit. A futex sleeper waits on the exact value it
// saw, so a notify between re-check and wait makes the wait return at once;
// an eventfd keeps its counter until read, so it cannot be missed either.
// prepare_sleep that finds messages leaves its bit set: the next producer
// sends one spurious wake. That keeps several consumers sharing a doorbell
// safe (clearing the bit could clear another sleeper's announcement).
// The idle producer path costs one load of a line nobody writes.
#pragma once

#include <atomic>
#include <cstdint>

#include "ipc/ring.h"

namespace sunray::ipc {

class Doorbell {
 public:
  // Non-owning: ring must outlive the doorbell; eventfd < 0 for futex only.
  explicit Doorbell(Ring& ring, int eventfd = -1) : word_(ring.sleeping_word()), ring_(&ring), efd_(eventfd) {}

  // Producer side. Returns true when a wake-up was sent.
  bool notify() { return notify_word(word_, efd_); }
  static bool notify_word(std::atomic<uint32_t>* word, int eventfd);

  // Consumer side: true -> the ring is empty and the caller may sleep; false ->
  // messages arrived, drain again.
  bool prepare_sleep(uint32_t mode);
  // Consumer side, before prepare_sleep: busy-waits up to budget_ns for a
  // message without announcing sleep. A round trip between two processes that
  // both spin costs no system call and no scheduler wake-up (DESIGN.md
  // "Measured": 8 us spinning vs 18 us sleeping for C futexes, ~32 us through
  // uv_poll). Returns true when a message is ready.
  bool spin_until_ready(int64_t budget_ns) const;
  // Futex sleeper, after prepare_sleep(kSleepFutex) returned true: waits until
  // notified (or timeout_ns, < 0 forever). Returns false on timeout.
  bool wait(int64_t timeout_ns = -1);
  // Consumer loop helper for native threads: pops one message, sleeping on
  // the futex while the ring is empty. Returns false on timeout.
  bool pop_wait(void* out, size_t cap, size_t* len, int64_t timeout_ns = -1);

  int eventfd() const { return efd_; }
  std::atomic<uint32_t>* word() const { return word_; }

  static int create_eventfd();            // EFD_NONBLOCK | EFD_CLOEXEC; throws RingError
  static uint64_t clear_eventfd(int fd);  // reads the counter (0 if not signalled)
  static void signal_eventfd(int fd);

 private:
  std::atomic<uint32_t>* word_;
  Ring* ring_;
  int efd_;
};

}  // namespace sunray::ipc
