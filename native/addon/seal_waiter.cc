// The store handle's waiter thread: see seal_waiter.h.
#include "addon/seal_waiter.h"

#include <atomic>

namespace sunray::addon {

void SealWaiter::arm(Napi::Env env, uint32_t epoch, Napi::Function callback) {
  if (!tsfn_) {
    tsfn_ = Napi::ThreadSafeFunction::New(env, callback, "sunray-store-seal", 0, 1);
    tsfn_.Unref(env);
    thread_ = std::thread([this] { run(); });
  }
  if (!refed_) {
    tsfn_.Ref(env);
    refed_ = true;
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    epoch_ = epoch;
    armed_ = true;
  }
  cv_.notify_one();
}

void SealWaiter::disarm(Napi::Env env) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    armed_ = false;
  }
  if (tsfn_ && refed_) {
    tsfn_.Unref(env);
    refed_ = false;
  }
}

void SealWaiter::stop() {
  if (!tsfn_) return;
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  // The thread may be asleep on the futex: move the epoch so it wakes (other waiters just re-check).
  store_->arena().header()->seal_epoch.fetch_add(1, std::memory_order_seq_cst);
  store_->wake_seal_waiters();
  if (thread_.joinable()) thread_.join();
  tsfn_.Release();
  tsfn_ = Napi::ThreadSafeFunction();
}

void SealWaiter::run() {
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    cv_.wait(lk, [this] { return stop_ || armed_; });
    if (stop_) return;
    uint32_t epoch = epoch_;
    lk.unlock();
    store_->wait_for_seal(epoch, -1);
    lk.lock();
    if (stop_) return;
    if (armed_ && store_->seal_epoch() != epoch_) {
      armed_ = false;
      tsfn_.NonBlockingCall();
    }
  }
}

}  // namespace sunray::addon
