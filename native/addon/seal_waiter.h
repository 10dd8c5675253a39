// The store handle's waiter thread: one per StoreHandle that JS has armed.
// It sleeps on the arena's seal epoch (a futex) while JS has gets waiting, and
// calls JS back (a thread-safe function) when the epoch moved, so a get that
// waits for a seal in another process costs no polling. The JS thread arms and
// disarms; the thread only waits and calls back.
#pragma once

#include <napi.h>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "store/store.h"

namespace sunray::addon {

class SealWaiter {
 public:
  explicit SealWaiter(store::Store* store) : store_(store) {}
  ~SealWaiter() { stop(); }
  SealWaiter(const SealWaiter&) = delete;
  SealWaiter& operator=(const SealWaiter&) = delete;

  // JS thread: call `callback` once the seal epoch is no longer `epoch`.
  // While armed, the waiter keeps the event loop alive.
  void arm(Napi::Env env, uint32_t epoch, Napi::Function callback);
  // JS thread: no callback wanted now; the event loop may exit.
  void disarm(Napi::Env env);
  // Joins the thread (it is woken by moving the epoch) and releases the callback.
  void stop();

 private:
  void run();

  store::Store* store_;
  Napi::ThreadSafeFunction tsfn_;
  bool refed_ = false;  // main thread only
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool armed_ = false;
  bool stop_ = false;
  uint32_t epoch_ = 0;
};

}  // namespace sunray::addon
