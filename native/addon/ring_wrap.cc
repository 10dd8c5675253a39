// The JS class Ring's methods: see ring_wrap.h.
#include "addon/ring_wrap.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "addon/bindings.h"

namespace sunray::addon {

using ipc::PushStatus;
using ipc::Ring;

namespace {

std::vector<uint8_t>& scratch() {
  thread_local std::vector<uint8_t> buf;  // per JS thread (worker_threads)
  return buf;
}

}  // namespace

Napi::Function RingWrap::Define(Napi::Env env) {
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

RingWrap::RingWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RingWrap>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[1].IsNumber())
    throw Napi::TypeError::New(env, "new Ring(segmentFd, offset, options)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  double off = info[1].As<Napi::Number>().DoubleValue();
  Napi::Object opts = info[2].IsObject() ? info[2].As<Napi::Object>() : Napi::Object::New(env);
  map_ = translated(env, [&] { return ShmSegment::shared_mapping(fd); });
  if (!(off >= 0) || off >= static_cast<double>(map_->size()) || static_cast<uint64_t>(off) % 64 != 0)
    throw Napi::RangeError::New(env, "Ring offset must be a multiple of 64 inside the segment");
  size_t offset = static_cast<size_t>(off);
  uint8_t* region = map_->base() + offset;
  size_t avail = map_->size() - offset;
  bool init = opts.Get("init").ToBoolean();
  bool track = opts.Get("track").ToBoolean();
  bool join = !opts.Has("join") || opts.Get("join").ToBoolean();
  translated(env, [&] {
    if (init) {
      ring_ = Ring::init(region, avail, u32_option(env, opts, "slots", 1024), u32_option(env, opts, "slotSize", 512),
                         u32_option(env, opts, "maxParticipants", ipc::kDefaultParticipants),
                         u32_option(env, opts, "holdBytes", ipc::kDefaultHoldBytes));
    } else {
      ring_ = Ring::attach(region, avail);
    }
    if (join) ring_.join(track);
  });
  open_ = true;
  napi_type_tag_object(env, Value(), &kRingTag);
}

bool RingWrap::push(Napi::Env env, Bytes b) {
  Ring& r = ring(env);
  PushStatus st = translated(env, [&] { return r.push(b.data, b.len); });
  if (st == PushStatus::kTooBig)
    throw coded_error(env, "ERR_SUNRAY_TOO_BIG",
                      "message of " + std::to_string(b.len) + " bytes exceeds the ring's " +
                          std::to_string(r.max_payload()) + "-byte slot payload",
                      true);
  return st == PushStatus::kOk;
}

size_t RingWrap::push_frames(Napi::Env env, Bytes b) {
  Ring& r = ring(env);
  // A malformed or oversized frame is a bad argument: RangeError.
  return translated(env, [&] { return r.push_frames(b.data, b.len); }, {.range = true});
}

Napi::Value RingWrap::drain(Napi::Env env, size_t max_bytes) {
  Ring& r = ring(env);
  auto& buf = scratch();
  size_t cap = std::max(max_bytes, r.max_payload() + 4);
  if (buf.size() < cap) buf.resize(cap);
  size_t used = 0;
  translated(env, [&] { r.pop_frames(buf.data(), cap, SIZE_MAX, &used); });
  if (used == 0) return env.Null();
  return Napi::Buffer<uint8_t>::Copy(env, buf.data(), used);
}

size_t RingWrap::max_bytes_arg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() > i && info[i].IsNumber()) {
    double d = info[i].As<Napi::Number>().DoubleValue();
    if (d > 0) return static_cast<size_t>(d);
  }
  return 1 << 20;
}

Napi::Value RingWrap::Push(const Napi::CallbackInfo& info) {
  Bytes b = bytes_arg(info, 0, "ring.push");
  return Napi::Boolean::New(info.Env(), push(info.Env(), b));
}

Napi::Value RingWrap::PushFrames(const Napi::CallbackInfo& info) {
  Bytes b = bytes_arg(info, 0, "ring.pushFrames");
  return Napi::Number::New(info.Env(), static_cast<double>(push_frames(info.Env(), b)));
}

Napi::Value RingWrap::Drain(const Napi::CallbackInfo& info) { return drain(info.Env(), max_bytes_arg(info, 0)); }

Napi::Value RingWrap::Done(const Napi::CallbackInfo& info) {
  ring(info.Env()).done();
  return info.Env().Undefined();
}

Napi::Value RingWrap::Size(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(ring(info.Env()).size()));
}

Napi::Value RingWrap::Capacity(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), ring(info.Env()).capacity());
}

Napi::Value RingWrap::SlotSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), ring(info.Env()).slot_size());
}

Napi::Value RingWrap::MaxPayload(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(ring(info.Env()).max_payload()));
}

Napi::Value RingWrap::HeldCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), ring(info.Env()).held_count());
}

Napi::Value RingWrap::Recover(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "ring.recover(pid): pid must be a number");
  int pid = info[0].As<Napi::Number>().Int32Value();
  if (pid <= 0) throw Napi::RangeError::New(env, "ring.recover(pid): pid must be > 0");
  Ring& r = ring(env);
  ipc::RecoverStats s = translated(env, [&] { return r.recover(pid); });
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

Napi::Value RingWrap::Close(const Napi::CallbackInfo& info) {
  if (open_) {
    ring_.leave();
    ring_ = Ring();
    map_.reset();
    open_ = false;
  }
  return info.Env().Undefined();
}

Napi::Value RingWrap::BytesNeeded(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto arg = [&](size_t i, uint32_t dflt) -> uint32_t {
    if (info.Length() <= i || info[i].IsUndefined()) return dflt;
    if (!info[i].IsNumber()) throw Napi::TypeError::New(env, "Ring.bytesNeeded: arguments must be numbers");
    return info[i].As<Napi::Number>().Uint32Value();
  };
  // Bad geometry is a bad argument here: RangeError.
  size_t bytes = translated(env,
                            [&] {
                              return Ring::bytes_needed(arg(0, 1024), arg(1, 512), arg(2, ipc::kDefaultParticipants),
                                                        arg(3, ipc::kDefaultHoldBytes));
                            },
                            {.range = true});
  return Napi::Number::New(env, static_cast<double>(bytes));
}

void InitRing(Napi::Env env, Napi::Object exports) { exports.Set("Ring", RingWrap::Define(env)); }

}  // namespace sunray::addon
