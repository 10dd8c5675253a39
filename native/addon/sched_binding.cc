// Node-API binding of the scheduler core (native/sched): rings in shared
// memory segments, eventfd doorbells watched by uv_poll, resource pools.
// Thin by design: each hot-path call is one crossing and at most one
// allocation (the Buffer a drain returns).
//
//   createSegment(bytes) -> { fd, size }          memfd, the caller owns fd (fs.closeSync)
//   createEventFd() -> fd                          EFD_NONBLOCK|EFD_CLOEXEC, caller owns it
//   new Ring(fd, offset, { slots?, slotSize?, init?, maxParticipants?, holdBytes?, track?, join? })
//   Ring.bytesNeeded(slots, slotSize, maxParticipants?, holdBytes?) -> number
//   ring.push(u8) -> boolean                       false: full; RangeError code ERR_SUNRAY_TOO_BIG
//   ring.pushFrames(u8) -> number                  bytes consumed ([u32 len][bytes] frames)
//   ring.drain(maxBytes?) -> Buffer | null         [u32 len][bytes] frames
//   ring.done() / ring.size() / ring.recover(pid) / ring.close()
//   ring.capacity, ring.slotSize, ring.maxPayload, ring.heldCount
//   new Doorbell(ring, eventFd)
//   db.notify() -> boolean, db.pushAndNotify(u8) -> boolean, db.pushFramesAndNotify(u8) -> number
//   db.prepareSleep() -> boolean, db.drainOrSleep(maxBytes?) -> Buffer | null
//   db.watch(cb), db.unwatch(), db.ref(), db.unref(), db.close()
//   new ResourcePool(totals, { unitResources? }), pool.tryAcquire(demand) -> grant | null,
//   pool.release(grant | id), pool.available(), pool.total(), pool.feasible(demand), pool.fits(demand)
#include <fcntl.h>
#include <napi.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "addon/bindings.h"
#include "ipc/doorbell.h"
#include "sched/resources.h"
#include "ipc/ring.h"

namespace sunray::addon {
namespace {

using ipc::Doorbell;
using ipc::PopStatus;
using ipc::PushStatus;
using ipc::Ring;

// ---------------------------------------------------------------- segments

// One mapping per file (keyed by device + inode, not by fd number: fds are
// reused after close). Rings hold a shared_ptr, so the memory stays mapped
// while any ring over it is open. No JS view ever points into it.
struct SchedMapping {
  uint8_t* base = nullptr;
  size_t size = 0;
  ~SchedMapping() {
    if (base) munmap(base, size);
  }
};

std::map<std::pair<dev_t, ino_t>, std::weak_ptr<SchedMapping>>& mapping_cache() {
  thread_local std::map<std::pair<dev_t, ino_t>, std::weak_ptr<SchedMapping>> cache;  // per JS thread
  return cache;
}

std::shared_ptr<SchedMapping> map_fd(Napi::Env env, int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0) throw Napi::Error::New(env, std::string("fstat(segment fd): ") + std::strerror(errno));
  auto key = std::make_pair(st.st_dev, st.st_ino);
  auto& cache = mapping_cache();
  auto it = cache.find(key);
  if (it != cache.end()) {
    if (auto m = it->second.lock(); m && m->size == static_cast<size_t>(st.st_size)) return m;
  }
  if (st.st_size <= 0) throw Napi::Error::New(env, "segment fd has size 0");
  void* p = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  if (p == MAP_FAILED) throw Napi::Error::New(env, std::string("mmap(segment): ") + std::strerror(errno));
  auto m = std::make_shared<SchedMapping>();
  m->base = static_cast<uint8_t*>(p);
  m->size = static_cast<size_t>(st.st_size);
  cache[key] = m;
  for (auto i = cache.begin(); i != cache.end();) i = i->second.expired() ? cache.erase(i) : std::next(i);
  return m;
}

Napi::Value CreateSegment(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "createSegment(bytes): bytes must be a number");
  double want = info[0].As<Napi::Number>().DoubleValue();
  if (!(want > 0) || want > double(1ull << 40)) throw Napi::RangeError::New(env, "createSegment: bad size");
  size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  size_t bytes = (static_cast<size_t>(want) + page - 1) / page * page;
  int fd = memfd_create("sunray-sched", MFD_CLOEXEC);
  if (fd < 0) throw Napi::Error::New(env, std::string("memfd_create: ") + std::strerror(errno));
  if (ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    int e = errno;
    close(fd);
    throw Napi::Error::New(env, std::string("ftruncate(segment): ") + std::strerror(e));
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("fd", Napi::Number::New(env, fd));
  o.Set("size", Napi::Number::New(env, static_cast<double>(bytes)));
  return o;
}

Napi::Value CreateEventFd(const Napi::CallbackInfo& info) {
  try {
    return Napi::Number::New(info.Env(), Doorbell::create_eventfd());
  } catch (const ipc::RingError& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
}

// ---------------------------------------------------------------- helpers

struct Bytes {
  const uint8_t* data;
  size_t len;
};

Bytes bytes_arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  Napi::Value v = info[i];
  if (v.IsTypedArray()) {
    auto ta = v.As<Napi::TypedArray>();
    if (ta.TypedArrayType() == napi_uint8_array) {
      auto u8 = v.As<Napi::Uint8Array>();
      return {u8.Data(), u8.ByteLength()};
    }
  }
  throw Napi::TypeError::New(info.Env(), std::string(what) + ": expected a Uint8Array or Buffer");
}

uint32_t u32_opt(Napi::Env env, Napi::Object o, const char* key, uint32_t dflt) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return dflt;
  if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string("option ") + key + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > 4294967295.0 || d != static_cast<double>(static_cast<uint32_t>(d)))
    throw Napi::RangeError::New(env, std::string("option ") + key + " must be an integer >= 0");
  return static_cast<uint32_t>(d);
}

std::vector<uint8_t>& scratch() {
  thread_local std::vector<uint8_t> buf;  // per JS thread (worker_threads)
  return buf;
}

// ---------------------------------------------------------------- Ring

// Type tag: a Doorbell checks its argument really is a Ring (no per-env state).
constexpr napi_type_tag kRingTag = {0x73756e7261797269ULL, 0x6e67000000000001ULL};

class RingWrap : public Napi::ObjectWrap<RingWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Ring",
                       {
                           InstanceMethod<&RingWrap::Push>("push"),
                           InstanceMethod<&RingWrap::PushFrames>("pushFrames"),
                           InstanceMethod<&RingWrap::Drain>("drain"),
                           InstanceMethod<&RingWrap::Done>("done"),
                           InstanceMethod<&RingWrap::Size>("size"),
                           InstanceMethod<&RingWrap::Recover>("recover"),
                           InstanceMethod<&RingWrap::Close>("close"),
                           InstanceAccessor<&RingWrap::Capacity>("capacity"),
                           InstanceAccessor<&RingWrap::SlotSize>("slotSize"),
                           InstanceAccessor<&RingWrap::MaxPayload>("maxPayload"),
                           InstanceAccessor<&RingWrap::HeldCount>("heldCount"),
                           StaticMethod<&RingWrap::BytesNeeded>("bytesNeeded"),
                       });
  }

  RingWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RingWrap>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsNumber() || !info[1].IsNumber())
      throw Napi::TypeError::New(env, "new Ring(segmentFd, offset, options)");
    int fd = info[0].As<Napi::Number>().Int32Value();
    double off = info[1].As<Napi::Number>().DoubleValue();
    Napi::Object opts = info[2].IsObject() ? info[2].As<Napi::Object>() : Napi::Object::New(env);
    map_ = map_fd(env, fd);
    if (!(off >= 0) || off >= static_cast<double>(map_->size) || static_cast<uint64_t>(off) % 64 != 0)
      throw Napi::RangeError::New(env, "Ring offset must be a multiple of 64 inside the segment");
    size_t offset = static_cast<size_t>(off);
    uint8_t* region = map_->base + offset;
    size_t avail = map_->size - offset;
    bool init = opts.Get("init").ToBoolean();
    bool track = opts.Get("track").ToBoolean();
    bool join = !opts.Has("join") || opts.Get("join").ToBoolean();
    try {
      if (init) {
        ring_ = Ring::init(region, avail, u32_opt(env, opts, "slots", 1024), u32_opt(env, opts, "slotSize", 512),
                           u32_opt(env, opts, "maxParticipants", ipc::kDefaultParticipants),
                           u32_opt(env, opts, "holdBytes", ipc::kDefaultHoldBytes));
      } else {
        ring_ = Ring::attach(region, avail);
      }
      if (join) ring_.join(track);
    } catch (const ipc::RingError& e) {
      throw Napi::Error::New(env, e.what());
    }
    open_ = true;
    napi_type_tag_object(env, Value(), &kRingTag);
  }

  Ring& ring(Napi::Env env) {
    if (!open_) throw Napi::Error::New(env, "ring is closed");
    return ring_;
  }
  Ring* ring_if_open() { return open_ ? &ring_ : nullptr; }

  Napi::Value Push(const Napi::CallbackInfo& info) {
    Bytes b = bytes_arg(info, 0, "ring.push");
    return Napi::Boolean::New(info.Env(), push(info.Env(), b));
  }

  bool push(Napi::Env env, Bytes b) {
    Ring& r = ring(env);
    PushStatus st;
    try {
      st = r.push(b.data, b.len);
    } catch (const ipc::RingError& e) {
      throw Napi::Error::New(env, e.what());
    }
    if (st == PushStatus::kTooBig) {
      auto err = Napi::RangeError::New(env, "message of " + std::to_string(b.len) + " bytes exceeds the ring's " +
                                                std::to_string(r.max_payload()) + "-byte slot payload");
      err.Set("code", Napi::String::New(env, "ERR_SUNRAY_TOO_BIG"));
      throw err;
    }
    return st == PushStatus::kOk;
  }

  Napi::Value PushFrames(const Napi::CallbackInfo& info) {
    Bytes b = bytes_arg(info, 0, "ring.pushFrames");
    return Napi::Number::New(info.Env(), static_cast<double>(push_frames(info.Env(), b)));
  }

  size_t push_frames(Napi::Env env, Bytes b) {
    try {
      return ring(env).push_frames(b.data, b.len);
    } catch (const ipc::RingError& e) {
      throw Napi::RangeError::New(env, e.what());
    }
  }

  Napi::Value Drain(const Napi::CallbackInfo& info) { return drain(info.Env(), max_bytes_arg(info, 0)); }

  size_t max_bytes_arg(const Napi::CallbackInfo& info, size_t i) {
    if (info.Length() > i && info[i].IsNumber()) {
      double d = info[i].As<Napi::Number>().DoubleValue();
      if (d > 0) return static_cast<size_t>(d);
    }
    return 1 << 20;
  }

  // Pops everything available (up to max_bytes) into one Buffer of frames.
  Napi::Value drain(Napi::Env env, size_t max_bytes) {
    Ring& r = ring(env);
    auto& buf = scratch();
    size_t cap = std::max(max_bytes, r.max_payload() + 4);
    if (buf.size() < cap) buf.resize(cap);
    size_t used = 0;
    try {
      r.pop_frames(buf.data(), cap, SIZE_MAX, &used);
    } catch (const ipc::RingError& e) {
      throw Napi::Error::New(env, e.what());
    }
    if (used == 0) return env.Null();
    return Napi::Buffer<uint8_t>::Copy(env, buf.data(), used);
  }

  Napi::Value Done(const Napi::CallbackInfo& info) {
    ring(info.Env()).done();
    return info.Env().Undefined();
  }
  Napi::Value Size(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(ring(info.Env()).size()));
  }
  Napi::Value Capacity(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), ring(info.Env()).capacity());
  }
  Napi::Value SlotSize(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), ring(info.Env()).slot_size());
  }
  Napi::Value MaxPayload(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(ring(info.Env()).max_payload()));
  }
  Napi::Value HeldCount(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), ring(info.Env()).held_count());
  }

  Napi::Value Recover(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "ring.recover(pid): pid must be a number");
    int pid = info[0].As<Napi::Number>().Int32Value();
    if (pid <= 0) throw Napi::RangeError::New(env, "ring.recover(pid): pid must be > 0");
    ipc::RecoverStats s = ring(env).recover(pid);
    Napi::Object o = Napi::Object::New(env);
    o.Set("records", s.records);
    o.Set("completed", s.completed);
    o.Set("tombstoned", s.tombstoned);
    o.Set("requeued", s.requeued);
    o.Set("pending", s.pending);
    o.Set("lost", s.lost);
    o.Set("skippedAlive", s.skipped_alive);
    return o;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (open_) {
      ring_.leave();
      ring_ = Ring();
      map_.reset();
      open_ = false;
    }
    return info.Env().Undefined();
  }

  static Napi::Value BytesNeeded(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto arg = [&](size_t i, uint32_t dflt) -> uint32_t {
      if (info.Length() <= i || info[i].IsUndefined()) return dflt;
      if (!info[i].IsNumber()) throw Napi::TypeError::New(env, "Ring.bytesNeeded: arguments must be numbers");
      return info[i].As<Napi::Number>().Uint32Value();
    };
    try {
      return Napi::Number::New(
          env, static_cast<double>(Ring::bytes_needed(arg(0, 1024), arg(1, 512), arg(2, ipc::kDefaultParticipants),
                                                      arg(3, ipc::kDefaultHoldBytes))));
    } catch (const ipc::RingError& e) {
      throw Napi::RangeError::New(env, e.what());
    }
  }

 private:
  std::shared_ptr<SchedMapping> map_;
  Ring ring_;
  bool open_ = false;
};

// ---------------------------------------------------------------- Doorbell

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

  bool prepare_sleep(Napi::Env env) {
    Ring& r = ring_->ring(env);
    r.sleeping_word()->fetch_or(ipc::kSleepEventfd, std::memory_order_seq_cst);
    return r.empty();
  }

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
        if (spin_ns_ > 0) hot_until_ns_ = mono_ns() + hot_window_ns_;
        return v;
      }
      if (spin_ns_ > 0 && prepare_ && mono_ns() < hot_until_ns_) {
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
    spin_ns_ = static_cast<int64_t>(spin_us * 1000);
    hot_window_ns_ = static_cast<int64_t>(hot_us * 1000);
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
  // the loop blocks. A message found is handed to JS at once, and the idle
  // handle makes this loop turn not block, so the next turn spins again.
  // Otherwise sleep is announced and the eventfd wakes us as usual.
  static void OnPrepare(uv_prepare_t* h) {
    auto* self = static_cast<DoorbellWrap*>(h->data);
    if (!self || !self->watching_ || !self->deferred_) return;
    self->deferred_ = false;
    Ring* r = self->ring_->ring_if_open();
    if (!r) return;
    // Back off after spins that found nothing: a channel whose replies take
    // longer than the budget would only burn CPU that others may need.
    bool spun = false;
    if (self->skip_spins_ > 0) {
      --self->skip_spins_;
    } else {
      spun = true;
      ++self->spins_;
    }
    if (!spun || !Doorbell(*r, self->efd_).spin_until_ready(self->spin_ns_)) {
      if (spun) self->fail_streak_ = std::min(self->fail_streak_ + 1, 6);
      if (spun) self->skip_spins_ = (1 << self->fail_streak_) - 1;
      r->sleeping_word()->fetch_or(ipc::kSleepEventfd, std::memory_order_seq_cst);
      if (r->empty()) return;
    } else {
      ++self->spin_hits_;
      self->fail_streak_ = 0;
    }
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

  static int64_t mono_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
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
    o.Set("spins", static_cast<double>(spins_));
    o.Set("spinHits", static_cast<double>(spin_hits_));
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
  int64_t spin_ns_ = 0;
  int64_t hot_window_ns_ = 0;
  int64_t hot_until_ns_ = 0;
  bool deferred_ = false;  // the ring was found empty and sleep is not announced yet
  int fail_streak_ = 0;    // spins in a row that found nothing (capped)
  int skip_spins_ = 0;     // idle turns left to sleep at once, without spinning
  uint64_t spins_ = 0, spin_hits_ = 0;
  Napi::FunctionReference cb_;
  std::unique_ptr<Napi::AsyncContext> async_;
  bool refd_ = true;
  bool watching_ = false;
  uint64_t wakeups_ = 0;
};

// ---------------------------------------------------------------- ResourcePool

class ResourcePoolWrap : public Napi::ObjectWrap<ResourcePoolWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ResourcePool",
                       {
                           InstanceMethod<&ResourcePoolWrap::TryAcquire>("tryAcquire"),
                           InstanceMethod<&ResourcePoolWrap::Release>("release"),
                           InstanceMethod<&ResourcePoolWrap::Available>("available"),
                           InstanceMethod<&ResourcePoolWrap::Total>("total"),
                           InstanceMethod<&ResourcePoolWrap::Feasible>("feasible"),
                           InstanceMethod<&ResourcePoolWrap::Fits>("fits"),
                       });
  }

  ResourcePoolWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ResourcePoolWrap>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "new ResourcePool(totals: Record<string, number>)");
    std::vector<std::pair<std::string, double>> totals;
    Napi::Object t = info[0].As<Napi::Object>();
    Napi::Array keys = t.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      std::string k = keys.Get(i).ToString();
      Napi::Value v = t.Get(k);
      if (!v.IsNumber()) throw Napi::TypeError::New(env, "resource '" + k + "': total must be a number");
      totals.emplace_back(k, v.As<Napi::Number>().DoubleValue());
    }
    std::vector<std::string> units = {"GPU"};
    if (info[1].IsObject()) {
      Napi::Value u = info[1].As<Napi::Object>().Get("unitResources");
      if (u.IsArray()) {
        units.clear();
        Napi::Array a = u.As<Napi::Array>();
        for (uint32_t i = 0; i < a.Length(); ++i) units.push_back(a.Get(i).ToString());
      }
    }
    try {
      pool_ = std::make_unique<sched::ResourcePool>(totals, units);
    } catch (const sched::ResourceError& e) {
      throw Napi::RangeError::New(env, e.what());
    }
  }

  void parse(const Napi::CallbackInfo& info, sched::Demand* d) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "demand must be a Record<string, number>");
    d->clear();
    Napi::Object o = info[0].As<Napi::Object>();
    Napi::Array keys = o.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      std::string k = keys.Get(i).ToString();
      Napi::Value v = o.Get(k);
      if (!v.IsNumber()) throw Napi::TypeError::New(env, "resource '" + k + "': amount must be a number");
      try {
        pool_->add_demand(*d, k, v.As<Napi::Number>().DoubleValue());
      } catch (const sched::ResourceError& e) {
        throw Napi::RangeError::New(env, e.what());
      }
    }
  }

  Napi::Value TryAcquire(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    parse(info, &demand_);
    sched::Grant g;
    if (!pool_->try_acquire(demand_, &g)) return env.Null();
    uint32_t id = ++next_id_;
    Napi::Object out = Napi::Object::New(env);
    out.Set("id", id);
    Napi::Array gpu = Napi::Array::New(env);
    Napi::Object ids = Napi::Object::New(env);
    for (const auto& p : g.pieces) {
      const std::string& name = pool_->name(p.resource);
      Napi::Value arr = ids.Get(name);
      if (!arr.IsArray()) {
        arr = Napi::Array::New(env);
        ids.Set(name, arr);
      }
      Napi::Array a = arr.As<Napi::Array>();
      a.Set(a.Length(), p.instance);
      if (name == "GPU") gpu.Set(gpu.Length(), p.instance);
    }
    out.Set("gpuIds", gpu);
    out.Set("ids", ids);
    grants_.emplace(id, std::move(g));
    return out;
  }

  Napi::Value Release(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    double id = -1;
    if (info[0].IsNumber())
      id = info[0].As<Napi::Number>().DoubleValue();
    else if (info[0].IsObject() && info[0].As<Napi::Object>().Get("id").IsNumber())
      id = info[0].As<Napi::Object>().Get("id").As<Napi::Number>().DoubleValue();
    else
      throw Napi::TypeError::New(env, "release(grant | grantId)");
    auto it = grants_.find(static_cast<uint32_t>(id));
    if (it == grants_.end())
      throw Napi::Error::New(
          env, "grant " + std::to_string(static_cast<int64_t>(id)) + " is not held by this pool (released twice?)");
    pool_->release(it->second);
    grants_.erase(it);
    return env.Undefined();
  }

  Napi::Value amounts(Napi::Env env, bool avail) {
    Napi::Object o = Napi::Object::New(env);
    for (size_t i = 0; i < pool_->count(); ++i) {
      int r = static_cast<int>(i);
      o.Set(pool_->name(r), sched::to_double(avail ? pool_->available(r) : pool_->total(r)));
    }
    return o;
  }
  Napi::Value Available(const Napi::CallbackInfo& info) { return amounts(info.Env(), true); }
  Napi::Value Total(const Napi::CallbackInfo& info) { return amounts(info.Env(), false); }
  Napi::Value Feasible(const Napi::CallbackInfo& info) {
    parse(info, &demand_);
    return Napi::Boolean::New(info.Env(), pool_->feasible(demand_));
  }
  Napi::Value Fits(const Napi::CallbackInfo& info) {
    parse(info, &demand_);
    return Napi::Boolean::New(info.Env(), pool_->fits(demand_));
  }

 private:
  std::unique_ptr<sched::ResourcePool> pool_;
  sched::Demand demand_;  // reused: no allocation per call once warm
  std::unordered_map<uint32_t, sched::Grant> grants_;
  uint32_t next_id_ = 0;
};

}  // namespace

void InitSched(Napi::Env env, Napi::Object exports) {
  exports.Set("createSegment", Napi::Function::New<CreateSegment>(env, "createSegment"));
  exports.Set("createEventFd", Napi::Function::New<CreateEventFd>(env, "createEventFd"));
  exports.Set("Ring", RingWrap::Define(env));
  exports.Set("Doorbell", DoorbellWrap::Define(env));
  exports.Set("ResourcePool", ResourcePoolWrap::Define(env));
}

}  // namespace sunray::addon
