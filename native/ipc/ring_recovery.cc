// Ring recovery after a participant's process died: Ring::recover(pid), the
// rare path (it may allocate). The node manager calls it when a process died;
// it verifies through /proc that the pid + start time really is gone (a
// reused pid with a new start time is another participant).
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
#include <cstring>
#include <string>
#include <vector>

#include "common/proc.h"
#include "ipc/ring.h"

namespace sunray::ipc {

using namespace ring_detail;

RecoverStats Ring::recover(pid_t pid) {
  RecoverStats st;
  const uint32_t upid = static_cast<uint32_t>(pid);
  if (upid == 0) return st;
  const uint64_t cap = mask_ + 1;
  const size_t hold = hdr_->hold_bytes;
  for (uint32_t i = 0; i < hdr_->max_participants; ++i) {
    RecordHeader* rec = record(i);
    if (rec->owner_pid.load(std::memory_order_acquire) != upid) continue;
    uint32_t state = rec->state.load(std::memory_order_acquire);
    if (state == kRecRecovering) continue;  // someone else is on it
    if (state != kRecPending) {
      uint64_t start = rec->start_time.load(std::memory_order_acquire);
      uint64_t now = proc::process_start_time(pid);
      if (now != 0 && (start == 0 || now == start)) {
        ++st.skipped_alive;
        continue;
      }
    }
    if (!rec->state.compare_exchange_strong(state, kRecRecovering, std::memory_order_acq_rel)) continue;
    ++st.records;

    // Messages to push again: (pos or ~0, bytes). Allocation is fine here: rare path.
    std::vector<std::string> again;
    auto held_has = [&](uint64_t pos) {
      const uint8_t* h = held_area(i);
      uint32_t hb = rec->held_bytes.load(std::memory_order_acquire);
      for (uint32_t off = 0; off + kHeldFrameHeader <= hb;) {
        uint64_t p;
        std::memcpy(&p, h + off, 8);
        if (p == pos) return true;
        off += static_cast<uint32_t>(kHeldFrameHeader + round_up(load_u32(h + off + 8), 8));
      }
      return false;
    };
    // 1. Slots the dead participant claimed.
    for (uint64_t k = 0; k < cap; ++k) {
      auto* s = reinterpret_cast<SlotHeader*>(base_ + hdr_->slots_offset + k * hdr_->slot_size);
      uint64_t w = s->word.load(std::memory_order_acquire);
      uint64_t tag = tag_of(w);
      if ((tag & kIndexMask) != uint64_t(i) + 1) continue;
      uint64_t turn = turn_of(w);
      if (!(tag & kConsumerBit)) {
        uint64_t pos = turn;
        help_advance(hdr_->enqueue_pos, pos);
        if (s->commit.load(std::memory_order_acquire) == pos + 1) {
          ++st.completed;
        } else {
          s->meta.store(uint64_t(kFlagTombstone) << 32, std::memory_order_relaxed);
          s->commit.store(pos + 1, std::memory_order_release);
          ++st.tombstoned;
        }
        s->word.store((pos + 1) << 8, std::memory_order_seq_cst);
      } else {
        uint64_t pos = turn - 1;
        help_advance(hdr_->dequeue_pos, pos);
        uint64_t meta = s->meta.load(std::memory_order_relaxed);
        if (!((meta >> 32) & kFlagTombstone) && !held_has(pos)) {
          again.emplace_back(reinterpret_cast<const char*>(payload(s)), static_cast<uint32_t>(meta));
        }
        s->word.store((pos + cap) << 8, std::memory_order_release);
      }
    }
    // 2. Messages it held (taken, not done()).
    {
      const uint8_t* h = held_area(i);
      uint32_t hb = rec->held_bytes.load(std::memory_order_acquire);
      for (uint32_t off = 0; off + kHeldFrameHeader <= hb;) {
        uint32_t n = load_u32(h + off + 8);
        again.emplace_back(reinterpret_cast<const char*>(h + off + kHeldFrameHeader), n);
        off += static_cast<uint32_t>(kHeldFrameHeader + round_up(n, 8));
      }
    }
    // 3. Push them again as participant i (its tag is ours now).
    size_t k = 0;
    for (; k < again.size(); ++k) {
      if (!push_tagged(i, again[k].data(), again[k].size())) break;
      ++st.requeued;
    }
    if (k < again.size()) {
      // Keep the rest in the held area for the next recover(pid) call.
      uint8_t* h = held_area(i);
      uint32_t off = 0, count = 0;
      for (; k < again.size(); ++k) {
        size_t n = again[k].size();
        if (off + kHeldFrameHeader + round_up(n, 8) > hold) {
          st.lost += static_cast<uint32_t>(again.size() - k);
          break;
        }
        uint64_t none = ~uint64_t(0);
        std::memcpy(h + off, &none, 8);
        store_u32(h + off + 8, static_cast<uint32_t>(n));
        store_u32(h + off + 12, 0);
        std::memcpy(h + off + kHeldFrameHeader, again[k].data(), n);
        off += static_cast<uint32_t>(kHeldFrameHeader + round_up(n, 8));
        ++count;
      }
      rec->held_count.store(count, std::memory_order_relaxed);
      rec->held_bytes.store(off, std::memory_order_release);
      st.pending += count;
      rec->state.store(count ? kRecPending : kRecFree, std::memory_order_release);
      if (count) continue;
    }
    rec->held_count.store(0, std::memory_order_relaxed);
    rec->held_bytes.store(0, std::memory_order_relaxed);
    rec->start_time.store(0, std::memory_order_relaxed);
    rec->state.store(kRecFree, std::memory_order_relaxed);
    rec->owner_pid.store(0, std::memory_order_release);
  }
  return st;
}

}  // namespace sunray::ipc
