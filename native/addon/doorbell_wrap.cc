// The JS class Doorbell: wake-ups for one Ring over an eventfd that uv_poll
// watches, and the spin before the event loop blocks (uv_prepare + uv_idle,
// with ipc::SpinPolicy deciding when). The protocol itself is ipc::Doorbell.
//
//   new Doorbell(ring, eventFd)
//   db.notify() -> boolean, db.pushAndNotify(u8) -> boolean, db.pushFramesAndNotify(u8) -> number
//   db.prepareSleep() -> boolean, db.drainOrSleep(maxBytes?) -> Buffer | null
//   db.watch(cb), db.unwatch(), db.ref(), db.unref(), db.close()
//   db.setSpin(spinUs, hotWindowUs), db.wakeups, db.stats() -> { wakeups, spins, spinHits }
#include <napi.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>

#include "addon/bindings.h"
#include "addon/napi_util.h"
#include "addon/ring_wrap.h"
#include "common/clock.h"
#include "ipc/doorbell.h"
#include "ipc/spin_policy.h"

namespace sunray::addon {
namespace {

using ipc::Doorbell;
using ipc::Ring;
using ipc::SpinPolicy;

class DoorbellWrap : public Napi::ObjectWrap<DoorbellWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Doorbell",
                       {
                           InstanceMethod<&DoorbellWrap::Notify>("notify"),
                           InstanceMethod<&DoorbellWrap::PushAndNotify>("pushAndNotify"),
                           InstanceMethod<&DoorbellWrap::PushFramesAndNotify>("pushFramesAndNotify"),
                           InstanceMethod<&DoorbellWrap::PrepareSleep>("prepareSleep"),
                           InstanceMethod<&DoorbellWrap::DrainOrSleep>("drainOrSleep"),
                           InstanceMethod<&DoorbellWrap::Watch>("watch"),
                           InstanceMethod<&DoorbellWrap::Unwatch>("unwatch"),
                           InstanceMethod<&DoorbellWrap::RefPoll>("ref"),
                           InstanceMethod<&DoorbellWrap::UnrefPoll>("unref"),
                           InstanceMethod<&DoorbellWrap::Close>("close"),
                           InstanceMethod<&DoorbellWrap::SetSpin>("setSpin"),
                           InstanceAccessor<&DoorbellWrap::Wakeups>("wakeups"),
                           InstanceMethod<&DoorbellWrap::Stats>("stats"),
                       });
  }

  DoorbellWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DoorbellWrap>(info) {
    Napi::Env env = info.Env();
    bool is_ring = false;
    if (info[0].IsObject()) napi_check_object_type_tag(env, info[0], &kRingTag, &is_ring);
    if (!is_ring) throw Napi::TypeError::New(env, "new Doorbell(ring, eventFd): ring must be a Ring");
    if (!info[1].IsNumber()) throw Napi::TypeError::New(env, "new Doorbell(ring, eventFd): eventFd must be a number");
    ring_obj_ = Napi::Persistent(info[0].As<Napi::Object>());
    ring_ = RingWrap::Unwrap(info[0].As<Napi::Object>());
    efd_ = info[1].As<Napi::Number>().Int32Value();
    ring_->ring(env);  // throws when closed
    napi_add_env_cleanup_hook(env, &DoorbellWrap::Cleanup, this);
  }

  ~DoorbellWrap() override {
    napi_remove_env_cleanup_hook(Env(), &DoorbellWrap::Cleanup, this);
    stop_poll();
  }

  bool notify(Napi::Env env) { return Doorbell::notify_word(ring_->ring(env).sleeping_word(), efd_); }

  Napi::Value Notify(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), notify(info.Env())); }

  Napi::Value PushAndNotify(const Napi::CallbackInfo& info) {
    Bytes b = bytes_arg(info, 0, "doorbell.pushAndNotify");
    bool ok = ring_->push(info.Env(), b);
    if (ok) notify(info.Env());
    return Napi::Boolean::New(info.Env(), ok);
  }

  Napi::Value PushFramesAndNotify(const Napi::CallbackInfo& info) {
    Bytes b = bytes_arg(info, 0, "doorbell.pushFramesAndNotify");
    size_t n = ring_->push_frames(info.Env(), b);
    if (n) notify(info.Env());
    return Napi::Number::New(info.Env(), static_cast<double>(n));
  }

  // Announces this reader's sleep (eventfd) and re-checks: true when it may wait.
  bool prepare_sleep(Napi::Env env) { return Doorbell(ring_->ring(env), efd_).prepare_sleep(ipc::kSleepEventfd); }

  Napi::Value PrepareSleep(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), prepare_sleep(info.Env()));
  }

  // drain; when empty announce sleep and re-check: null only when it is
  // safe to wait for the watch callback.
  //
  // With spinning on (setSpin) and the channel hot, an empty ring does not
  // announce sleep here: the loop's prepare phase spins first (OnPrepare).
  Napi::Value DrainOrSleep(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    size_t max_bytes = ring_->max_bytes_arg(info, 0);
    for (;;) {
      Napi::Value v = ring_->drain(env, max_bytes);
      if (!v.IsNull()) {
        if (spin_.enabled()) spin_.on_message(monotonic_ns());
        return v;
      }
      if (spin_.enabled() && prepare_ && spin_.defer_sleep(monotonic_ns())) {
        deferred_ = true;
        return env.Null();
      }
      if (prepare_sleep(env)) return env.Null();
    }
  }

  // setSpin(spinUs, hotWindowUs): before the loop blocks, spin up to spinUs for
  // a message when one arrived in the last hotWindowUs. 0 turns spinning off.
  Napi::Value SetSpin(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsNumber() || !info[1].IsNumber())
      throw Napi::TypeError::New(env, "doorbell.setSpin(spinUs, hotWindowUs): numbers expected");
    double spin_us = info[0].As<Napi::Number>().DoubleValue();
    double hot_us = info[1].As<Napi::Number>().DoubleValue();
    if (!(spin_us >= 0 && spin_us <= 1e6) || !(hot_us >= 0 && hot_us <= 1e7))
      throw Napi::RangeError::New(env, "doorbell.setSpin: spinUs must be in [0, 1e6] and hotWindowUs in [0, 1e7]");
    spin_.configure(static_cast<int64_t>(spin_us * 1000), static_cast<int64_t>(hot_us * 1000));
    return env.Undefined();
  }

  Napi::Value Watch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsFunction()) throw Napi::TypeError::New(env, "doorbell.watch(callback)");
    if (poll_) throw Napi::Error::New(env, "doorbell is already watching");
    if (efd_ < 0) throw Napi::Error::New(env, "doorbell has no eventfd to watch");
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop) throw Napi::Error::New(env, "no uv loop");
    cb_ = Napi::Persistent(info[0].As<Napi::Function>());
    if (!async_) async_ = std::make_unique<Napi::AsyncContext>(env, "sunray:doorbell");
    poll_ = new uv_poll_t;
    int rc = uv_poll_init(loop, poll_, efd_);
    if (rc != 0) {
      delete poll_;
      poll_ = nullptr;
      throw Napi::Error::New(env, std::string("uv_poll_init(eventfd): ") + uv_strerror(rc));
    }
    poll_->data = this;
    uv_poll_start(poll_, UV_READABLE, &DoorbellWrap::OnReadable);
    if (!refd_) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    // The spin phase: a prepare handle runs just before the loop would block;
    // an idle handle, when active, keeps that block from happening. Neither
    // keeps the process alive.
    prepare_ = new uv_prepare_t;
    uv_prepare_init(loop, prepare_);
    prepare_->data = this;
    uv_prepare_start(prepare_, &DoorbellWrap::OnPrepare);
    uv_unref(reinterpret_cast<uv_handle_t*>(prepare_));
    idle_ = new uv_idle_t;
    uv_idle_init(loop, idle_);
    idle_->data = this;
    uv_unref(reinterpret_cast<uv_handle_t*>(idle_));
    Ref();  // keep this object alive while watching
    watching_ = true;
    return env.Undefined();
  }

  static void OnReadable(uv_poll_t* h, int status, int /*events*/) {
    auto* self = static_cast<DoorbellWrap*>(h->data);
    if (!self || !self->watching_) return;
    Doorbell::clear_eventfd(self->efd_);
    ++self->wakeups_;
    if (status < 0) return;
    self->deferred_ = false;
    self->call_js();
  }

  // The JS reader found the ring empty while the channel was hot: spin before
  // the loop blocks, unless the policy backs off (ipc/spin_policy.h). A
  // message found is handed to JS at once, and the idle handle makes this
  // loop turn not block, so the next turn spins again. Otherwise sleep is
  // announced and the eventfd wakes us as usual.
  static void OnPrepare(uv_prepare_t* h) {
    auto* self = static_cast<DoorbellWrap*>(h->data);
    if (!self || !self->watching_ || !self->deferred_) return;
    self->deferred_ = false;
    Ring* r = self->ring_->ring_if_open();
    if (!r) return;
    Doorbell bell(*r, self->efd_);
    const bool spun = self->spin_.begin_spin();
    const bool found = spun && bell.spin_until_ready(self->spin_.budget_ns());
    if (spun) self->spin_.end_spin(found);
    if (!found && bell.prepare_sleep(ipc::kSleepEventfd)) return;
    self->call_js();
    if (self->watching_ && self->deferred_ && self->idle_) uv_idle_start(self->idle_, &DoorbellWrap::OnIdle);
  }

  static void OnIdle(uv_idle_t* h) { uv_idle_stop(h); }

  void call_js() {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    try {
      cb_.MakeCallback(Value(), {}, *async_);
    } catch (const Napi::Error& e) {
      napi_fatal_exception(env, e.Value());
    }
  }

  template <typename H>
  static void close_handle(H*& h) {
    if (!h) return;
    h->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(h), [](uv_handle_t* x) { delete reinterpret_cast<H*>(x); });
    h = nullptr;
  }

  void stop_poll() {
    if (poll_) uv_poll_stop(poll_);
    if (prepare_) uv_prepare_stop(prepare_);
    if (idle_) uv_idle_stop(idle_);
    close_handle(poll_);
    close_handle(prepare_);
    close_handle(idle_);
    deferred_ = false;
  }

  Napi::Value Unwatch(const Napi::CallbackInfo& info) {
    unwatch();
    return info.Env().Undefined();
  }

  void unwatch() {
    if (!watching_) return;
    watching_ = false;
    stop_poll();
    cb_.Reset();
    Unref();
  }

  Napi::Value RefPoll(const Napi::CallbackInfo& info) {
    refd_ = true;
    if (poll_) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }
  Napi::Value UnrefPoll(const Napi::CallbackInfo& info) {
    refd_ = false;
    if (poll_) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    unwatch();
    return info.Env().Undefined();
  }

  Napi::Value Wakeups(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(wakeups_));
  }

  // { wakeups, spins, spinHits }: how often the eventfd woke this reader, and
  // how often a spin before sleeping found a message.
  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("wakeups", static_cast<double>(wakeups_));
    o.Set("spins", static_cast<double>(spin_.spins()));
    o.Set("spinHits", static_cast<double>(spin_.spin_hits()));
    return o;
  }

  static void Cleanup(void* arg) {
    auto* self = static_cast<DoorbellWrap*>(arg);
    self->watching_ = false;
    self->stop_poll();
  }

 private:
  Napi::ObjectReference ring_obj_;
  RingWrap* ring_ = nullptr;
  int efd_ = -1;
  uv_poll_t* poll_ = nullptr;
  uv_prepare_t* prepare_ = nullptr;
  uv_idle_t* idle_ = nullptr;
  SpinPolicy spin_;
  bool deferred_ = false;  // the ring was found empty and sleep is not announced yet
  Napi::FunctionReference cb_;
  std::unique_ptr<Napi::AsyncContext> async_;
  bool refd_ = true;
  bool watching_ = false;
  uint64_t wakeups_ = 0;
};

}  // namespace

void InitDoorbell(Napi::Env env, Napi::Object exports) { exports.Set("Doorbell", DoorbellWrap::Define(env)); }

}  // namespace sunray::addon
