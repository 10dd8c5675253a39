// The JS class Ring: a handle on an ipc::Ring inside a shared segment, which
// each JS thread maps once (ShmSegment::shared_mapping). Declared here because
// a Doorbell (doorbell_wrap.cc) pushes to and drains the Ring it was given.
// Thin by design: each hot-path call is one crossing and at most one
// allocation (the Buffer a drain returns).
//
//   new Ring(fd, offset, { slots?, slotSize?, init?, maxParticipants?, holdBytes?, track?, join? })
//   Ring.bytesNeeded(slots, slotSize, maxParticipants?, holdBytes?) -> number
//   ring.push(u8) -> boolean                       false: full; RangeError code ERR_SUNRAY_TOO_BIG
//   ring.pushFrames(u8) -> number                  bytes consumed ([u32 len][bytes] frames)
//   ring.drain(maxBytes?) -> Buffer | null         [u32 len][bytes] frames
//   ring.done() / ring.size() / ring.recover(pid) / ring.close()
//   ring.capacity, ring.slotSize, ring.maxPayload, ring.heldCount
#pragma once

#include <napi.h>

#include <cstddef>
#include <memory>

#include "addon/napi_util.h"
#include "common/shm_segment.h"
#include "ipc/ring.h"

namespace sunray::addon {

// Type tag: a Doorbell checks its argument really is a Ring (no per-env state).
inline constexpr napi_type_tag kRingTag = {0x73756e7261797269ULL, 0x6e67000000000001ULL};

class RingWrap : public Napi::ObjectWrap<RingWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  RingWrap(const Napi::CallbackInfo& info);

  // The open ring; a JS error "ring is closed" after close().
  ipc::Ring& ring(Napi::Env env) {
    if (!open_) throw Napi::Error::New(env, "ring is closed");
    return ring_;
  }
  ipc::Ring* ring_if_open() { return open_ ? &ring_ : nullptr; }

  // The operations a Doorbell shares: false / 0 when the ring is full.
  bool push(Napi::Env env, Bytes b);
  size_t push_frames(Napi::Env env, Bytes b);
  // Pops everything available (up to max_bytes) into one Buffer of frames; null when empty.
  Napi::Value drain(Napi::Env env, size_t max_bytes);
  // info[i] as drain's maxBytes: 1 MiB unless a positive number.
  static size_t max_bytes_arg(const Napi::CallbackInfo& info, size_t i);

 private:
  Napi::Value Push(const Napi::CallbackInfo& info);
  Napi::Value PushFrames(const Napi::CallbackInfo& info);
  Napi::Value Drain(const Napi::CallbackInfo& info);
  Napi::Value Done(const Napi::CallbackInfo& info);
  Napi::Value Size(const Napi::CallbackInfo& info);
  Napi::Value Capacity(const Napi::CallbackInfo& info);
  Napi::Value SlotSize(const Napi::CallbackInfo& info);
  Napi::Value MaxPayload(const Napi::CallbackInfo& info);
  Napi::Value HeldCount(const Napi::CallbackInfo& info);
  Napi::Value Recover(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  static Napi::Value BytesNeeded(const Napi::CallbackInfo& info);

  std::shared_ptr<ShmSegment> map_;  // keeps the segment mapped while the ring is open
  ipc::Ring ring_;
  bool open_ = false;
};

}  // namespace sunray::addon
