// Crash repair and the consistency check. A process killed while holding the
// arena mutex may have left any derived structure half-updated; the object
// table is written so that each entry is either published or not, so the
// repair trusts only the table (after validating every entry) and rebuilds
// the rest: the allocator's blocks and free lists, pin totals, the LRU lists
// (in their old order, by lru_tick) and the counters.
#include <algorithm>
#include <tuple>

#include "store/store.h"
#include "store/store_internal.h"
#include "store/store_lock.h"

namespace sunray::store {

void Store::repair_now() {
  // Take the lock the ordinary way (it may itself trigger a repair), then repair again.
  Lock lock(*this);
  repair_locked();
}

void Store::repair_locked() {
  ArenaHeader* h = hdr();
  ObjectTable t = table();
  StoreState& s = h->state;
  t.recount();

  // 1. Validate every live entry; drop the ones that cannot be right.
  struct Live {
    uint64_t off, size;
    uint32_t slot;
  };
  std::vector<Live> live;
  for (uint32_t i = 0; i < t.slots(); ++i) {
    ObjectEntry& e = t.at(i);
    if (!ObjectTable::is_live(e.state)) continue;
    bool ok = e.creator < h->max_clients && e.data_size <= arena_.data_capacity() &&
              e.metadata_size <= arena_.data_capacity();
    if (ok && e.state != kObjectSpilled) {
      uint64_t bs = Allocator::block_size_for(e.data_size + e.metadata_size);
      ok = e.data_offset % kBlockAlign == 0 && e.data_offset >= h->data_begin + kBlockHeaderSize &&
           e.data_offset - kBlockHeaderSize + bs <= h->data_end;
      if (ok) live.push_back({e.data_offset, e.data_size + e.metadata_size, i});
    }
    if (!ok) publish_state(&e.state, kSlotTombstone);
  }
  // 2. No two allocations may overlap: keep the sealed one (or the first).
  std::sort(live.begin(), live.end(), [](const Live& a, const Live& b) { return a.off < b.off; });
  std::vector<std::pair<uint64_t, uint64_t>> blocks;
  uint64_t end_of_last = 0;
  for (const Live& l : live) {
    uint64_t start = l.off - kBlockHeaderSize;
    if (start < end_of_last) {
      publish_state(&t.at(l.slot).state, kSlotTombstone);
      continue;
    }
    blocks.emplace_back(l.off, l.size);
    end_of_last = start + Allocator::block_size_for(l.size);
  }
  t.recount();
  // 3. The allocator, from the live allocations alone.
  alloc().rebuild(blocks);

  // 4. Pins: drop records of dead slots, recompute the totals (and each client's counts).
  PinTable p = pins();
  ClientSlot* clients = arena_.clients();
  for (uint32_t c = 0; c < h->max_clients; ++c) clients[c].unsealed = clients[c].pin_records = 0;
  for (uint32_t i = 0; i < t.slots(); ++i) t.at(i).pins = 0;
  for (uint32_t i = 0; i < p.slots(); ++i) {
    PinRecord& r = p.at(i);
    if (r.client_plus1 == 0 || r.client_plus1 == PinTable::kPinTombstone) continue;
    if (r.object >= t.slots() || t.at(r.object).state != kObjectSealed || r.count == 0 ||
        r.client_plus1 > h->max_clients) {
      p.erase(&r);
      continue;
    }
    t.at(r.object).pins += r.count;
    ++clients[r.client_plus1 - 1].pin_records;
  }

  // 5. Counters and LRU lists, in their old order.
  std::vector<std::pair<uint64_t, uint32_t>> order;
  s.objects_sealed = s.objects_unsealed = s.objects_spilled = s.bytes_spilled_now = 0;
  s.pinned_objects = s.pinned_bytes = s.pinned_block_bytes = 0;
  for (int l = 0; l < 2; ++l) {
    s.lru_head[l] = s.lru_tail[l] = kNoSlot;
    s.lru_bytes[l] = 0;
  }
  for (uint32_t i = 0; i < t.slots(); ++i) {
    ObjectEntry& e = t.at(i);
    e.in_lru = 0;
    e.lru_prev = e.lru_next = kNoSlot;
    if (e.state == kObjectCreated) {
      ++s.objects_unsealed;
      ++clients[e.creator].unsealed;
    }
    if (e.state == kObjectSpilled) {
      ++s.objects_spilled;
      s.bytes_spilled_now += e.data_size + e.metadata_size;
    }
    if (e.state != kObjectSealed) continue;
    ++s.objects_sealed;
    if (e.pins == 0)
      order.emplace_back(e.lru_tick, i);
    else
      pinned_add(e);
  }
  std::sort(order.begin(), order.end());
  for (auto [tick, slot] : order) {
    if (t.at(slot).delete_pending)
      erase_locked(slot);
    else
      lru_push(slot);
  }
  // Atomic stores: the warmer reads both without the lock.
  if (s.committed < h->data_begin || s.committed > h->data_end)
    std::atomic_ref<uint64_t>(s.committed).store(h->data_begin, std::memory_order_release);
  if (s.high_water < h->data_begin || s.high_water > s.committed)
    std::atomic_ref<uint64_t>(s.high_water).store(s.committed, std::memory_order_release);
  ++s.repairs;
}

bool Store::check(std::string* why) {
  Lock lock(*this);
  auto fail = [&](const std::string& m) {
    if (why) *why = m;
    return false;
  };
  ArenaHeader* h = hdr();
  Allocator a = alloc();
  if (!a.check(why)) return false;
  ObjectTable t = table();
  const StoreState& s = h->state;
  std::vector<std::pair<uint64_t, uint64_t>> blocks;
  uint64_t sealed = 0, unsealed = 0, spilled = 0, live = 0, used = 0;
  for (uint32_t i = 0; i < t.slots(); ++i) {
    const ObjectEntry& e = t.at(i);
    if (!ObjectTable::is_live(e.state)) continue;
    ++live;
    if (e.state == kObjectSpilled) {
      ++spilled;
      continue;
    }
    (e.state == kObjectSealed ? sealed : unsealed)++;
    uint64_t bs = Allocator::block_size_for(e.data_size + e.metadata_size);
    if (a.block_size(e.data_offset) != bs) return fail("entry's block has the wrong size");
    auto* b = reinterpret_cast<const BlockHeader*>(base() + e.data_offset - kBlockHeaderSize);
    if (b->tag != Allocator::kUsedTag) return fail("entry points at a free block");
    blocks.emplace_back(e.data_offset - kBlockHeaderSize, bs);
    used += bs;
    if (e.data_offset + e.data_size + e.metadata_size > s.committed)
      return fail("object beyond the committed watermark");
  }
  std::sort(blocks.begin(), blocks.end());
  for (size_t i = 1; i < blocks.size(); ++i)
    if (blocks[i - 1].first + blocks[i - 1].second > blocks[i].first) return fail("two objects overlap");
  if (used != a.capacity() - a.free_bytes()) return fail("allocated bytes that no object owns (a leak)");
  if (live != t.live()) return fail("table live count is wrong");
  if (sealed != s.objects_sealed || unsealed != s.objects_unsealed || spilled != s.objects_spilled)
    return fail("state counters are wrong");
  // Pins.
  std::vector<uint32_t> pin_sum(t.slots(), 0);
  PinTable p = pins();
  for (uint32_t i = 0; i < p.slots(); ++i) {
    const PinRecord& r = p.at(i);
    if (r.client_plus1 == 0 || r.client_plus1 == PinTable::kPinTombstone) continue;
    if (r.count == 0) return fail("pin record with zero count");
    if (!arena_.clients()[r.client_plus1 - 1].active) return fail("pin held by an inactive client");
    pin_sum[r.object] += r.count;
  }
  std::vector<uint32_t> records_of(h->max_clients, 0), unsealed_of(h->max_clients, 0);
  for (uint32_t i = 0; i < p.slots(); ++i) {
    const PinRecord& r = p.at(i);
    if (r.client_plus1 != 0 && r.client_plus1 != PinTable::kPinTombstone) ++records_of[r.client_plus1 - 1];
  }
  for (uint32_t i = 0; i < t.slots(); ++i)
    if (t.at(i).state == kObjectCreated && t.at(i).creator < h->max_clients) ++unsealed_of[t.at(i).creator];
  for (uint32_t c = 0; c < h->max_clients; ++c) {
    const ClientSlot& cs = arena_.clients()[c];
    if (cs.pin_records != records_of[c]) return fail("a client's pin record count is wrong");
    if (cs.unsealed != unsealed_of[c]) return fail("a client's unsealed object count is wrong");
  }
  for (uint32_t i = 0; i < t.slots(); ++i) {
    const ObjectEntry& e = t.at(i);
    if (ObjectTable::is_live(e.state) && e.pins != pin_sum[i]) return fail("pin total disagrees with pin records");
    if (!ObjectTable::is_live(e.state) && pin_sum[i]) return fail("pin on a dead slot");
  }
  // LRU lists: exactly the unpinned sealed objects, in tick order.
  uint64_t in_lists = 0;
  for (int l = 0; l < 2; ++l) {
    uint64_t bytes = 0, last_tick = 0;
    uint32_t prev = kNoSlot;
    for (uint32_t i = s.lru_head[l]; i != kNoSlot; i = t.at(i).lru_next) {
      const ObjectEntry& e = t.at(i);
      if (e.state != kObjectSealed || e.pins || e.delete_pending || !e.in_lru) return fail("bad entry on an LRU list");
      if ((e.primary ? kSpillList : kEvictList) != l) return fail("entry on the wrong LRU list");
      if (e.lru_prev != prev) return fail("broken LRU back link");
      if (e.lru_tick < last_tick) return fail("LRU list out of order");
      last_tick = e.lru_tick;
      bytes += Allocator::block_size_for(e.data_size + e.metadata_size);
      prev = i;
      if (++in_lists > t.slots()) return fail("LRU cycle");
    }
    if (s.lru_tail[l] != prev) return fail("LRU tail is wrong");
    if (bytes != s.lru_bytes[l]) return fail("LRU byte count is wrong");
  }
  uint64_t should = 0;
  for (uint32_t i = 0; i < t.slots(); ++i) {
    const ObjectEntry& e = t.at(i);
    if (e.state == kObjectSealed && e.pins == 0 && !e.delete_pending) ++should;
  }
  if (should != in_lists) return fail("an unpinned sealed object is missing from the LRU lists");
  uint64_t pinned = 0, pinned_bytes = 0, pinned_blocks = 0;
  for (uint32_t i = 0; i < t.slots(); ++i) {
    const ObjectEntry& e = t.at(i);
    if (e.state != kObjectSealed || e.pins == 0) continue;
    ++pinned;
    pinned_bytes += e.data_size + e.metadata_size;
    pinned_blocks += Allocator::block_size_for(e.data_size + e.metadata_size);
  }
  if (pinned != s.pinned_objects || pinned_bytes != s.pinned_bytes || pinned_blocks != s.pinned_block_bytes)
    return fail("pinned counters are wrong");
  return true;
}

}  // namespace sunray::store
