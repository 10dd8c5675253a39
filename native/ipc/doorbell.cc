// The doorbell's wake-ups (futex and eventfd), the consumer's sleep protocol
// and its bounded spin: see doorbell.h.
#include "ipc/doorbell.h"

#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <string>

#include "common/clock.h"
#include "common/futex.h"

namespace sunray::ipc {

bool Doorbell::notify_word(std::atomic<uint32_t>* word, int eventfd) {
  if (word->load(std::memory_order_seq_cst) == 0) return false;
  uint32_t prev = word->exchange(0, std::memory_order_seq_cst);
  if (prev & kSleepFutex) futex_wake(word, INT_MAX);
  if ((prev & kSleepEventfd) && eventfd >= 0) signal_eventfd(eventfd);
  return prev != 0;
}

bool Doorbell::prepare_sleep(uint32_t mode) {
  word_->fetch_or(mode, std::memory_order_seq_cst);
  return ring_->empty();
}

namespace {
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}
}  // namespace

bool Doorbell::spin_until_ready(int64_t budget_ns) const {
  if (budget_ns <= 0) return !ring_->empty();
  const int64_t deadline = monotonic_ns() + budget_ns;
  for (;;) {
    // The clock is read once per 32 checks: an empty check is one shared load.
    for (int i = 0; i < 32; ++i) {
      if (!ring_->empty()) return true;
      cpu_relax();
    }
    if (monotonic_ns() >= deadline) return !ring_->empty();
    // Polite spinning: when more processes are runnable than there are cores
    // (a busy 2-core machine), the one we wait for may need this CPU.
    sched_yield();
  }
}

bool Doorbell::wait(int64_t timeout_ns) {
  uint32_t v = word_->load(std::memory_order_seq_cst);
  if (!(v & kSleepFutex)) return true;
  return futex_wait(word_, v, timeout_ns);
}

bool Doorbell::pop_wait(void* out, size_t cap, size_t* len, int64_t timeout_ns) {
  for (;;) {
    PopStatus st = ring_->try_pop(out, cap, len);
    if (st == PopStatus::kOk) return true;
    if (st == PopStatus::kHoldFull) throw RingError("held area full: call done() before popping more");
    if (!prepare_sleep(kSleepFutex)) continue;
    if (!wait(timeout_ns)) {
      return ring_->try_pop(out, cap, len) == PopStatus::kOk;
    }
  }
}

int Doorbell::create_eventfd() {
  int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) throw RingError(std::string("eventfd: ") + std::strerror(errno));
  return fd;
}

uint64_t Doorbell::clear_eventfd(int fd) {
  uint64_t v = 0;
  for (;;) {
    ssize_t n = ::read(fd, &v, sizeof v);
    if (n == sizeof v) return v;
    if (n < 0 && errno == EINTR) continue;
    return 0;  // EAGAIN: not signalled
  }
}

void Doorbell::signal_eventfd(int fd) {
  uint64_t one = 1;
  for (;;) {
    ssize_t n = ::write(fd, &one, sizeof one);
    if (n >= 0 || errno != EINTR) return;  // EAGAIN only at 2^64-2: already signalled
  }
}

}  // namespace sunray::ipc
