// A bounded multi-producer multi-consumer ring in a caller-provided
// (shared-memory) region: Dmitry Vyukov's bounded MPMC queue, extended so a
// process killed mid-operation cannot wedge it. No Node dependency.
//
// ---------------------------------------------------------------------------
// Layout (everything is an offset from the region base; no pointers):
//
//   RingHeader            magic, version, geometry; enqueue_pos, dequeue_pos
//                         and the doorbell word each on their own 64-byte line
//   Record[max_participants]
//                         one claim record per participant (a Ring handle that
//                         joined): owner pid + process start time, and a "held"
//                         area where a tracking consumer keeps the messages it
//                         has taken but not finished (until done())
//   Slot[slots]           slot_size bytes each: 24-byte SlotHeader + payload
//
// ---------------------------------------------------------------------------
// The protocol. Each slot has one 64-bit atomic word = (turn << 8) | tag.
// turn is Vyukov's sequence number (56 bits: at 10^8 operations/s it wraps
// after 22 years); tag is 0 or identifies the participant that owns the slot
// right now: bit 7 = consumer claim, bits 0..6 = record index + 1.
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
// Crash recovery: recover(pid), called by the node manager when a process
// died (it verifies through /proc that the pid + start time really is gone;
// a reused pid with a new start time is another participant).
//   For each record of that pid: state ALIVE -> RECOVERING by CAS (so one
//   recoverer at a time). Only the dead participant ever set its tag on a
//   slot, and it cannot run any more, so the recoverer may act as that
//   participant. It scans every slot for the dead tag:
//   * producer claim at pos: help-advance enqueue_pos; if commit == pos+1 the
//     payload and meta were completely written -> publish as is ("completed");
//     otherwise mark meta TOMBSTONE and publish ("tombstoned"): consumers
//     release and skip it. Either way the position is no longer a hole.
//   * consumer claim at pos: help-advance dequeue_pos; if the message is in
//     the committed held area already (held frames carry their position) it
//     is not copied again; otherwise it is copied out of the slot. The slot
//     is released (word = (pos+cap)<<8).
//   Then every held message (not finished with done()) and every message
//   copied out of a claimed slot is pushed again, using the dead record's
//   index as the producer tag. Messages that do not fit (ring full) stay in
//   the record's held area and the record stays RECOVERING: calling
//   recover(pid) again retries them. Finally the record is freed.
//   Re-enqueued messages go to the tail (not their old place in FIFO order).
//   Delivery is at-least-once for a tracking consumer (a message handled but
//   not yet done() is delivered again), at-most-once for a non-tracking one
//   after the message left the slot.
// ---------------------------------------------------------------------------
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <stdexcept>

namespace sunray::sched {

static_assert(std::atomic<uint64_t>::is_always_lock_free, "ring words must be lock-free");
static_assert(std::atomic<uint32_t>::is_always_lock_free, "ring words must be lock-free");
static_assert(sizeof(std::atomic<uint64_t>) == 8, "shared layout");

inline constexpr uint64_t kRingMagic = 0x474e5259524e5553ULL;  // "SUNRYRNG" in memory
inline constexpr uint32_t kRingVersion = 1;
inline constexpr uint32_t kSlotHeaderBytes = 24;
inline constexpr uint32_t kMaxParticipants = 126;  // 7-bit tags
inline constexpr uint32_t kDefaultParticipants = 16;
inline constexpr uint32_t kDefaultHoldBytes = 32 * 1024;
inline constexpr uint32_t kHeldFrameHeader = 16;  // u64 pos, u32 len, u32 pad

// Doorbell word values (bits): who sleeps and how to wake them.
inline constexpr uint32_t kSleepFutex = 1;
inline constexpr uint32_t kSleepEventfd = 2;

struct RingError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct alignas(64) RingHeader {
  uint64_t magic;
  uint32_t version;
  uint32_t slots;
  uint32_t slot_size;
  uint32_t max_participants;
  uint32_t hold_bytes;   // held area per record
  uint32_t record_size;  // 64 + hold_bytes rounded up to 64
  uint64_t total_bytes;
  uint64_t records_offset;
  uint64_t slots_offset;
  alignas(64) std::atomic<uint64_t> enqueue_pos;
  alignas(64) std::atomic<uint64_t> dequeue_pos;
  alignas(64) std::atomic<uint32_t> sleeping;  // kSleep* bits of sleeping consumers
  alignas(64) uint8_t end_pad[1];
};

struct alignas(64) RecordHeader {
  std::atomic<uint32_t> owner_pid;   // 0: free
  std::atomic<uint32_t> state;       // RecordState
  std::atomic<uint64_t> start_time;  // /proc/<pid>/stat starttime of the owner
  std::atomic<uint32_t> held_bytes;  // committed bytes in the held area
  std::atomic<uint32_t> held_count;
};

struct SlotHeader {
  std::atomic<uint64_t> word;    // (turn << 8) | tag
  std::atomic<uint64_t> commit;  // pos+1 once payload + meta of position pos are written
  std::atomic<uint64_t> meta;    // (flags << 32) | length
};
static_assert(sizeof(SlotHeader) == kSlotHeaderBytes);

// kRecPending: recovered, but some messages still wait for room in the ring.
enum RecordState : uint32_t { kRecFree = 0, kRecJoining = 1, kRecAlive = 2, kRecRecovering = 3, kRecPending = 4 };
inline constexpr uint32_t kFlagTombstone = 1;

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

}  // namespace sunray::sched
