// The ring's normal operation: formatting and attaching a region, joining,
// push and pop with claim tags, the tracking consumer's held area, and the
// fault-injection hooks the tests use. See ring.h for the protocol and
// ring_layout.h for the bytes; recovery after a crash is ring_recovery.cc.
#include "ipc/ring.h"

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "common/proc.h"

namespace sunray::ipc {

using namespace ring_detail;

Ring::~Ring() {
  if (self_ >= 0) leave();
}

Ring::Ring(Ring&& o) noexcept
    : base_(std::exchange(o.base_, nullptr)),
      hdr_(std::exchange(o.hdr_, nullptr)),
      mask_(o.mask_),
      self_(std::exchange(o.self_, -1)),
      track_(o.track_) {}

Ring& Ring::operator=(Ring&& o) noexcept {
  if (this != &o) {
    if (self_ >= 0) leave();
    base_ = std::exchange(o.base_, nullptr);
    hdr_ = std::exchange(o.hdr_, nullptr);
    mask_ = o.mask_;
    self_ = std::exchange(o.self_, -1);
    track_ = o.track_;
  }
  return *this;
}

static void check_geometry(uint32_t slots, uint32_t slot_size, uint32_t max_participants, uint32_t hold_bytes) {
  if (slots < 2 || slots > (1u << 24) || (slots & (slots - 1)) != 0)
    throw RingError("ring slots must be a power of two between 2 and 2^24, got " + std::to_string(slots));
  if (slot_size < kSlotHeaderBytes + 8 || slot_size > (1u << 20) || slot_size % 8 != 0)
    throw RingError("ring slot size must be a multiple of 8 between 32 and 1 MiB, got " + std::to_string(slot_size));
  if (max_participants < 1 || max_participants > kMaxParticipants)
    throw RingError("ring participants must be between 1 and 126, got " + std::to_string(max_participants));
  if (hold_bytes > (1u << 30)) throw RingError("ring hold bytes too large: " + std::to_string(hold_bytes));
}

size_t Ring::bytes_needed(uint32_t slots, uint32_t slot_size, uint32_t max_participants, uint32_t hold_bytes) {
  check_geometry(slots, slot_size, max_participants, hold_bytes);
  size_t header = round_up(sizeof(RingHeader), 64);
  size_t record = 64 + round_up(hold_bytes, 64);
  return header + record * max_participants + size_t(slots) * slot_size;
}

Ring Ring::init(void* region, size_t bytes, uint32_t slots, uint32_t slot_size, uint32_t max_participants,
                uint32_t hold_bytes) {
  size_t need = bytes_needed(slots, slot_size, max_participants, hold_bytes);
  if (reinterpret_cast<uintptr_t>(region) % 64 != 0) throw RingError("ring region must be 64-byte aligned");
  if (bytes < need)
    throw RingError("ring region too small: " + std::to_string(bytes) + " bytes, need " + std::to_string(need));
  auto* base = static_cast<uint8_t*>(region);
  std::memset(base, 0, round_up(sizeof(RingHeader), 64));
  auto* h = reinterpret_cast<RingHeader*>(base);
  h->version = kRingVersion;
  h->slots = slots;
  h->slot_size = slot_size;
  h->max_participants = max_participants;
  h->hold_bytes = static_cast<uint32_t>(round_up(hold_bytes, 64));
  h->record_size = 64 + h->hold_bytes;
  h->total_bytes = need;
  h->records_offset = round_up(sizeof(RingHeader), 64);
  h->slots_offset = h->records_offset + uint64_t(h->record_size) * max_participants;
  h->enqueue_pos.store(0, std::memory_order_relaxed);
  h->dequeue_pos.store(0, std::memory_order_relaxed);
  h->sleeping.store(0, std::memory_order_relaxed);
  for (uint32_t i = 0; i < max_participants; ++i) {
    std::memset(base + h->records_offset + uint64_t(i) * h->record_size, 0, 64);
  }
  for (uint64_t i = 0; i < slots; ++i) {
    auto* s = reinterpret_cast<SlotHeader*>(base + h->slots_offset + i * slot_size);
    s->word.store(i << 8, std::memory_order_relaxed);
    s->commit.store(0, std::memory_order_relaxed);
    s->meta.store(0, std::memory_order_relaxed);
  }
  std::atomic_ref<uint64_t>(h->magic).store(kRingMagic, std::memory_order_release);
  return attach(region, bytes);
}

Ring Ring::attach(void* region, size_t bytes) {
  if (reinterpret_cast<uintptr_t>(region) % 64 != 0) throw RingError("ring region must be 64-byte aligned");
  auto* base = static_cast<uint8_t*>(region);
  auto* h = reinterpret_cast<RingHeader*>(base);
  if (std::atomic_ref<uint64_t>(h->magic).load(std::memory_order_acquire) != kRingMagic)
    throw RingError("not a sunray ring (bad magic)");
  if (h->version != kRingVersion)
    throw RingError("ring version " + std::to_string(h->version) + ", expected " + std::to_string(kRingVersion));
  check_geometry(h->slots, h->slot_size, h->max_participants, h->hold_bytes);
  if (h->total_bytes != bytes_needed(h->slots, h->slot_size, h->max_participants, h->hold_bytes))
    throw RingError("ring header is inconsistent");
  if (bytes != 0 && bytes < h->total_bytes)
    throw RingError("ring region of " + std::to_string(bytes) + " bytes is smaller than the ring (" +
                    std::to_string(h->total_bytes) + ")");
  Ring r(base);
  r.mask_ = h->slots - 1;
  return r;
}

void Ring::join(bool track) {
  if (self_ >= 0) throw RingError("ring handle already joined");
  if (track && hdr_->hold_bytes < kHeldFrameHeader + max_payload())
    throw RingError("tracking consumer needs hold bytes >= one message; ring has " + std::to_string(hdr_->hold_bytes));
  const proc::Identity me = proc::self_identity();
  const uint32_t pid = static_cast<uint32_t>(me.pid);
  const uint64_t start = me.start_time;
  for (uint32_t i = 0; i < hdr_->max_participants; ++i) {
    RecordHeader* r = record(i);
    uint32_t expected = 0;
    if (r->owner_pid.load(std::memory_order_relaxed) != 0) continue;
    if (!r->owner_pid.compare_exchange_strong(expected, pid, std::memory_order_acq_rel)) continue;
    r->state.store(kRecJoining, std::memory_order_relaxed);
    r->start_time.store(start, std::memory_order_relaxed);
    r->held_count.store(0, std::memory_order_relaxed);
    r->held_bytes.store(0, std::memory_order_relaxed);
    r->state.store(kRecAlive, std::memory_order_release);
    self_ = static_cast<int>(i);
    track_ = track;
    return;
  }
  throw RingError("ring has no free participant record (max " + std::to_string(hdr_->max_participants) + ")");
}

void Ring::leave() {
  if (self_ < 0) return;
  RecordHeader* r = record(static_cast<uint32_t>(self_));
  r->held_count.store(0, std::memory_order_relaxed);
  r->held_bytes.store(0, std::memory_order_relaxed);
  r->start_time.store(0, std::memory_order_relaxed);
  r->state.store(kRecFree, std::memory_order_relaxed);
  r->owner_pid.store(0, std::memory_order_release);
  self_ = -1;
}

SlotHeader* Ring::claim_push(uint64_t tag, uint64_t* pos_out) {
  auto& enq = hdr_->enqueue_pos;
  uint64_t pos = enq.load(std::memory_order_relaxed);
  for (;;) {
    SlotHeader* s = slot(pos);
    uint64_t w = s->word.load(std::memory_order_acquire);
    int64_t d = diff(turn_of(w), pos);
    if (d == 0) {
      if (tag_of(w) == 0) {
        // The claim: free-for-pos -> owned-by-tag at pos, one atomic step.
        if (s->word.compare_exchange_weak(w, (pos << 8) | tag, std::memory_order_acq_rel, std::memory_order_relaxed)) {
          help_advance(enq, pos);
          *pos_out = pos;
          return s;
        }
        continue;  // lost the race (or spurious): look again
      }
      help_advance(enq, pos);  // another producer owns pos
      pos = enq.load(std::memory_order_relaxed);
    } else if (d < 0) {
      return nullptr;  // previous lap not consumed yet: full
    } else {
      help_advance(enq, pos);  // pos was claimed long ago: enqueue_pos is stale
      pos = enq.load(std::memory_order_relaxed);
    }
  }
}

void Ring::write_and_publish(SlotHeader* s, uint64_t pos, const void* data, size_t len, uint32_t flags, int stop) {
  if (len) std::memcpy(payload(s), data, len);
  s->meta.store((uint64_t(flags) << 32) | uint64_t(len), std::memory_order_relaxed);
  // commit == pos+1 tells a recoverer the payload and meta are complete.
  s->commit.store(pos + 1, std::memory_order_release);
  if (stop == 2) return;
  // seq_cst: pairs with the consumer's seq_cst sleeping/re-check in Doorbell.
  s->word.store((pos + 1) << 8, std::memory_order_seq_cst);
}

PushStatus Ring::push(const void* data, size_t len) {
  if (len > max_payload()) return PushStatus::kTooBig;
  if (self_ < 0) throw RingError("ring handle must join() before pushing");
  uint64_t pos;
  SlotHeader* s = claim_push(ptag(static_cast<uint32_t>(self_)), &pos);
  if (!s) return PushStatus::kFull;
  write_and_publish(s, pos, data, len, 0, 0);
  return PushStatus::kOk;
}

bool Ring::push_tagged(uint32_t idx, const void* data, size_t len) {
  uint64_t pos;
  SlotHeader* s = claim_push(ptag(idx), &pos);
  if (!s) return false;
  write_and_publish(s, pos, data, len, 0, 0);
  return true;
}

size_t Ring::push_batch(const void* const* data, const size_t* lens, size_t count) {
  size_t i = 0;
  for (; i < count; ++i) {
    if (push(data[i], lens[i]) != PushStatus::kOk) break;
  }
  return i;
}

size_t Ring::push_frames(const uint8_t* frames, size_t bytes, size_t* pushed) {
  size_t off = 0, n = 0;
  while (off < bytes) {
    if (bytes - off < 4) throw RingError("truncated frame header at byte " + std::to_string(off));
    uint32_t len = load_u32(frames + off);
    if (len > bytes - off - 4)
      throw RingError("frame at byte " + std::to_string(off) + " claims " + std::to_string(len) + " bytes, only " +
                      std::to_string(bytes - off - 4) + " left");
    if (push(frames + off + 4, len) != PushStatus::kOk) break;  // full or too big: caller decides
    off += 4 + size_t(len);
    ++n;
  }
  if (pushed) *pushed = n;
  return off;
}

SlotHeader* Ring::claim_pop(uint64_t tag, uint64_t* pos_out) {
  auto& deq = hdr_->dequeue_pos;
  uint64_t pos = deq.load(std::memory_order_relaxed);
  for (;;) {
    SlotHeader* s = slot(pos);
    uint64_t w = s->word.load(std::memory_order_acquire);
    int64_t d = diff(turn_of(w), pos + 1);
    if (d == 0) {
      if (tag_of(w) == 0) {
        if (s->word.compare_exchange_weak(w, w | tag, std::memory_order_acq_rel, std::memory_order_relaxed)) {
          help_advance(deq, pos);
          *pos_out = pos;
          return s;
        }
        continue;
      }
      help_advance(deq, pos);  // another consumer owns message pos
      pos = deq.load(std::memory_order_relaxed);
    } else if (d < 0) {
      return nullptr;  // not published yet: empty
    } else {
      help_advance(deq, pos);
      pos = deq.load(std::memory_order_relaxed);
    }
  }
}

PopStatus Ring::pop_one(uint8_t* out, size_t* len, int stop) {
  if (self_ < 0) throw RingError("ring handle must join() before popping");
  const uint32_t me = static_cast<uint32_t>(self_);
  RecordHeader* rec = record(me);
  if (track_) {
    uint32_t hb = rec->held_bytes.load(std::memory_order_relaxed);
    if (hb + kHeldFrameHeader + round_up(max_payload(), 8) > hdr_->hold_bytes) return PopStatus::kHoldFull;
  }
  for (;;) {
    uint64_t pos;
    SlotHeader* s = claim_pop(ctag(me), &pos);
    if (!s) return PopStatus::kEmpty;
    if (stop == 1) return PopStatus::kOk;
    uint64_t meta = s->meta.load(std::memory_order_relaxed);
    uint32_t n = static_cast<uint32_t>(meta);
    if ((meta >> 32) & kFlagTombstone) {
      s->word.store((pos + mask_ + 1) << 8, std::memory_order_release);
      continue;
    }
    const uint8_t* src = payload(s);
    if (track_) {
      // Held copy first, committed (release) before the slot is released: a
      // recoverer finds the message in exactly one of the two places, or in
      // both with the same pos, which it recognises.
      uint32_t hb = rec->held_bytes.load(std::memory_order_relaxed);
      uint8_t* dst = held_area(me) + hb;
      std::memcpy(dst, &pos, 8);
      store_u32(dst + 8, n);
      store_u32(dst + 12, 0);
      std::memcpy(dst + kHeldFrameHeader, src, n);
      rec->held_count.store(rec->held_count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      rec->held_bytes.store(hb + static_cast<uint32_t>(kHeldFrameHeader + round_up(n, 8)), std::memory_order_release);
    }
    std::memcpy(out, src, n);
    *len = n;
    if (stop == 2) return PopStatus::kOk;
    s->word.store((pos + mask_ + 1) << 8, std::memory_order_release);
    return PopStatus::kOk;
  }
}

PopStatus Ring::try_pop(void* out, size_t cap, size_t* len) {
  if (cap < max_payload()) throw RingError("pop buffer smaller than the ring's max payload");
  return pop_one(static_cast<uint8_t*>(out), len, 0);
}

size_t Ring::pop_frames(uint8_t* out, size_t out_cap, size_t max, size_t* used) {
  size_t u = 0, count = 0;
  const size_t need = 4 + max_payload();
  while (count < max && out_cap - u >= need) {
    size_t n;
    if (pop_one(out + u + 4, &n, 0) != PopStatus::kOk) break;
    store_u32(out + u, static_cast<uint32_t>(n));
    u += 4 + n;
    ++count;
  }
  *used = u;
  return count;
}

void Ring::done() {
  if (self_ < 0) return;
  RecordHeader* rec = record(static_cast<uint32_t>(self_));
  rec->held_count.store(0, std::memory_order_relaxed);
  rec->held_bytes.store(0, std::memory_order_release);
}

uint32_t Ring::held_count() const {
  if (self_ < 0) return 0;
  return record(static_cast<uint32_t>(self_))->held_count.load(std::memory_order_relaxed);
}

size_t Ring::size() const {
  uint64_t d = hdr_->dequeue_pos.load(std::memory_order_acquire);
  uint64_t e = hdr_->enqueue_pos.load(std::memory_order_acquire);
  return e > d ? static_cast<size_t>(e - d) : 0;
}

bool Ring::empty() const {
  auto& deq = hdr_->dequeue_pos;
  for (;;) {
    uint64_t pos = deq.load(std::memory_order_seq_cst);
    uint64_t w = slot(pos)->word.load(std::memory_order_seq_cst);
    int64_t d = diff(turn_of(w), pos + 1);
    if (d < 0) return true;
    if (d == 0 && tag_of(w) == 0) return false;
    help_advance(deq, pos);  // claimed or consumed: look at the next position
  }
}

bool Ring::debug_push_stop(const void* data, size_t len, int stage) {
  if (self_ < 0 || len > max_payload()) return false;
  uint64_t pos;
  SlotHeader* s = claim_push(ptag(static_cast<uint32_t>(self_)), &pos);
  if (!s) return false;
  if (stage == 1) return true;
  write_and_publish(s, pos, data, len, 0, 2);
  return true;
}

bool Ring::debug_pop_stop(int stage) {
  static thread_local std::vector<uint8_t> scratch;
  scratch.resize(max_payload());
  size_t n;
  return pop_one(scratch.data(), &n, stage) == PopStatus::kOk;
}

}  // namespace sunray::ipc
