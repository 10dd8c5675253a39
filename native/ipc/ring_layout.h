// What a ring looks like in shared memory, byte for byte: the header, one
// claim record per participant, the slots, and the encoding of a slot's word
// and of a held frame. Everything is an offset from the region base, never a
// pointer: each process maps the region at its own address. ring.h says how
// the words change (the protocol); this file only says where they are.
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
// A slot's word is (turn << 8) | tag. turn is Vyukov's sequence number (56
// bits: at 10^8 operations/s it wraps after 22 years); tag is 0 or identifies
// the participant that owns the slot right now: bit 7 = consumer claim, bits
// 0..6 = record index + 1. A held frame is [u64 pos][u32 len][u32 pad][bytes],
// padded to 8 bytes. No Node dependency.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace sunray::ipc {

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

// The encoding of words and frames, shared by ring.cc and ring_recovery.cc.
namespace ring_detail {

inline constexpr uint64_t kTagMask = 0xff;
inline constexpr uint64_t kConsumerBit = 0x80;
inline constexpr uint64_t kIndexMask = 0x7f;

inline uint64_t turn_of(uint64_t w) { return w >> 8; }
inline uint64_t tag_of(uint64_t w) { return w & kTagMask; }
inline uint64_t ptag(uint32_t idx) { return uint64_t(idx) + 1; }
inline uint64_t ctag(uint32_t idx) { return kConsumerBit | (uint64_t(idx) + 1); }
inline size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }
inline int64_t diff(uint64_t a, uint64_t b) { return static_cast<int64_t>(a - b); }

// Advances a position from pos to pos+1 if nobody did yet. Only called once
// slot(pos) is known to be claimed, so it never skips an unclaimed position.
inline void help_advance(std::atomic<uint64_t>& a, uint64_t pos) {
  uint64_t expected = pos;
  a.compare_exchange_strong(expected, pos + 1, std::memory_order_acq_rel, std::memory_order_relaxed);
}

inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline void store_u32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }

}  // namespace ring_detail
}  // namespace sunray::ipc
