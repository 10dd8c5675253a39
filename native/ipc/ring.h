// A bounded multi-producer multi-consumer ring in a caller-provided
// (shared-memory) region: Dmitry Vyukov's bounded MPMC queue, extended so a
// process killed mid-operation cannot wedge it. This file owns the Ring
// handle and the protocol; ring_layout.h the bytes in shared memory;
// ring_recovery.cc what happens after a participant died. No Node dependency.
//
// ---------------------------------------------------------------------------
// The protocol. Each slot has one 64-bit atomic word = (turn << 8) | tag
// (ring_layout.h): turn is Vyukov's sequence number, tag 0 or the participant
// that owns the slot right now.
//
// For the slot of position p (index p & mask):
//   word == p<<8               free for the producer of position p
//   word == p<<8 | ptag(i)     participant i is writing position p
//   word == (p+1)<<8           message p is published
//   word == (p+1)<<8 | ctag(i) participant i is reading message p
//   word == (p+cap)<<8         consumed: free for the producer of p+cap
//
// push (producer i): pos = enqueue_pos; look at slot(pos):
//   turn == pos, tag 0   -> CAS word to pos<<8|ptag(i). The CAS on the slot,
//                           not the CAS on enqueue_pos, is what claims the
//                           position, so the claim and its owner are recorded
//                           in one atomic step: there is no window in which a
//                           position is taken but nobody can tell by whom.
//                           Then help-advance enqueue_pos (CAS pos -> pos+1).
//   turn == pos, tagged  -> another producer claimed it: help-advance, retry.
//   turn <  pos          -> the slot still holds the previous lap: full.
//   turn >  pos          -> enqueue_pos is stale: help-advance, reload.
//   Then write the payload, meta (length, flags) and commit = pos+1 (release),
//   then publish: word = (pos+1)<<8 (seq_cst, see Doorbell).
// pop (consumer i): the mirror image on dequeue_pos with turn == pos+1,
//   claiming with ctag(i); a tracking consumer copies the message into its
//   held area and commits it (held_bytes, release) BEFORE releasing the slot:
//   word = (pos+cap)<<8. Tombstoned messages are released and skipped.
// enqueue_pos/dequeue_pos only advance after slot(pos) was claimed (by the
// claimer or by a helper that saw the claim), and slot turns only grow, so a
// stale position can never claim a slot twice (no ABA with 56-bit turns).
//
// ---------------------------------------------------------------------------
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "ipc/ring_layout.h"

namespace sunray::ipc {

struct RingError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class PopStatus { kOk, kEmpty, kHoldFull };
enum class PushStatus { kOk, kFull, kTooBig };

struct RecoverStats {
  uint32_t records = 0;        // dead records of that pid found
  uint32_t completed = 0;      // producer claims published as written
  uint32_t tombstoned = 0;     // producer claims turned into tombstones
  uint32_t requeued = 0;       // consumer-claimed / held messages pushed again
  uint32_t pending = 0;        // messages still waiting for room (call recover again)
  uint32_t skipped_alive = 0;  // records whose process is still alive
  uint32_t lost = 0;           // did not fit anywhere (ring full and no hold area): dropped
};

class Ring {
 public:
  Ring() = default;
  ~Ring();
  Ring(Ring&& o) noexcept;
  Ring& operator=(Ring&& o) noexcept;
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  static size_t bytes_needed(uint32_t slots, uint32_t slot_size, uint32_t max_participants = kDefaultParticipants,
                             uint32_t hold_bytes = kDefaultHoldBytes);
  // Formats region (64-byte aligned, `bytes` long). Throws RingError on bad geometry.
  static Ring init(void* region, size_t bytes, uint32_t slots, uint32_t slot_size,
                   uint32_t max_participants = kDefaultParticipants, uint32_t hold_bytes = kDefaultHoldBytes);
  // Validates magic, version and geometry against `bytes` (0: trust the header).
  static Ring attach(void* region, size_t bytes = 0);

  // Registers this handle as a participant (pid = getpid()). Every producer
  // and consumer handle must join; one handle per thread. track: keep popped
  // messages in the held area until done() (needs hold_bytes > 0).
  void join(bool track = false);
  void leave();  // frees the record (held messages are dropped: call done() first)
  bool joined() const { return self_ >= 0; }
  int participant() const { return self_; }

  PushStatus push(const void* data, size_t len);
  bool try_push(const void* data, size_t len) { return push(data, len) == PushStatus::kOk; }
  // Pushes count messages (data[i], lens[i]) in order; returns how many fit.
  size_t push_batch(const void* const* data, const size_t* lens, size_t count);
  // Frames: [u32 len][bytes]... Pushes whole frames while they fit; returns
  // bytes consumed (a multiple of frames). Throws RingError on a malformed
  // frame or one larger than max_payload() (the caller routes it elsewhere).
  size_t push_frames(const uint8_t* frames, size_t bytes, size_t* pushed = nullptr);
  // Pops one message into out (capacity >= max_payload()).
  PopStatus try_pop(void* out, size_t cap, size_t* len);
  // Pops up to max messages into out as [u32 len][bytes] frames, at most
  // out_cap bytes. Returns messages popped; *used = bytes written.
  size_t pop_frames(uint8_t* out, size_t out_cap, size_t max, size_t* used);
  // Tracking consumer: the held messages are finished.
  void done();
  uint32_t held_count() const;

  size_t size() const;  // approximate number of queued messages
  bool empty() const;   // no message ready at the consumer position (seq_cst reads)
  uint32_t capacity() const { return hdr_->slots; }
  uint32_t slot_size() const { return hdr_->slot_size; }
  size_t max_payload() const { return hdr_->slot_size - kSlotHeaderBytes; }
  RingHeader* header() const { return hdr_; }
  std::atomic<uint32_t>* sleeping_word() const { return &hdr_->sleeping; }

  // After a participant's process died: finishes or tombstones what it had
  // claimed and pushes again what it held. Checks through /proc that the pid
  // (with the start time it joined with) is really gone; see ring_recovery.cc.
  RecoverStats recover(pid_t pid);

  // Fault injection for tests: stop a push / pop half way as a crash would.
  // push stage 1: after the claim; 2: after commit (payload written), before publish.
  // pop stage 1: after the claim; 2: after the held copy is committed, before release.
  bool debug_push_stop(const void* data, size_t len, int stage);
  bool debug_pop_stop(int stage);

 private:
  explicit Ring(uint8_t* base) : base_(base), hdr_(reinterpret_cast<RingHeader*>(base)) {}
  SlotHeader* slot(uint64_t pos) const {
    return reinterpret_cast<SlotHeader*>(base_ + hdr_->slots_offset + (pos & mask_) * hdr_->slot_size);
  }
  uint8_t* payload(SlotHeader* s) const { return reinterpret_cast<uint8_t*>(s) + kSlotHeaderBytes; }
  RecordHeader* record(uint32_t i) const {
    return reinterpret_cast<RecordHeader*>(base_ + hdr_->records_offset + uint64_t(i) * hdr_->record_size);
  }
  uint8_t* held_area(uint32_t i) const { return reinterpret_cast<uint8_t*>(record(i)) + 64; }

  // Claims a free producer position with tag; returns the slot and position.
  SlotHeader* claim_push(uint64_t tag, uint64_t* pos_out);
  void write_and_publish(SlotHeader* s, uint64_t pos, const void* data, size_t len, uint32_t flags, int stop);
  // Claims a published message with ctag; nullptr when empty.
  SlotHeader* claim_pop(uint64_t tag, uint64_t* pos_out);
  PopStatus pop_one(uint8_t* out, size_t* len, int stop);
  bool push_tagged(uint32_t idx, const void* data, size_t len);

  uint8_t* base_ = nullptr;
  RingHeader* hdr_ = nullptr;
  uint64_t mask_ = 0;
  int self_ = -1;
  bool track_ = false;
};

}  // namespace sunray::ipc
