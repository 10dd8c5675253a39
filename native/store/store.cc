#include "store/store.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "common/futex.h"
#include "common/proc.h"
#include "store/spill.h"
#include "store/store_lock.h"

namespace sunray::store {

void (*g_store_crash_point)(const char* point) = nullptr;

namespace {

inline void crash_point(const char* point) {
  if (g_store_crash_point) g_store_crash_point(point);
}

constexpr int kEvictList = 0;  // non-primary copies: dropped when space is needed
constexpr int kSpillList = 1;  // primary copies: written to the spill directory

std::string size_text(uint64_t n) { return std::to_string(n) + " bytes"; }

}  // namespace

std::unique_ptr<Store> Store::create(const ArenaOptions& opts) {
  return std::unique_ptr<Store>(new Store(Arena::create(opts)));
}
std::unique_ptr<Store> Store::attach_fd(int fd) { return std::unique_ptr<Store>(new Store(Arena::attach_fd(fd))); }
std::unique_ptr<Store> Store::attach_path(const std::string& path) {
  return std::unique_ptr<Store>(new Store(Arena::attach_path(path)));
}

// ---------------------------------------------------------------------------
// Clients

uint32_t Store::register_client() {
  auto [pid, start] = proc::self_identity();
  Lock lock(*this);
  ClientSlot* c = arena_.clients();
  for (int attempt = 0; attempt < 2; ++attempt) {
    for (uint32_t i = 0; i < hdr()->max_clients; ++i) {
      if (c[i].active) continue;
      c[i].pid = pid;
      c[i].start_time = start;
      c[i].unsealed = c[i].pin_records = 0;
      publish_state(&c[i].active, 1);
      return i;
    }
    // Full: make room by reaping clients whose processes are gone.
    for (uint32_t i = 0; i < hdr()->max_clients; ++i)
      if (c[i].active && !proc::process_alive(c[i].pid, c[i].start_time)) reap_locked(i);
  }
  throw StoreError(StoreErrorCode::kTooManyClients,
                   "all " + std::to_string(hdr()->max_clients) +
                       " client slots of the object store are taken by live processes; close stores you no longer use");
}

void Store::check_client(uint32_t client) const {
  if (client >= hdr()->max_clients || !arena_.clients()[client].active)
    throw StoreError(StoreErrorCode::kInvalidClient,
                     "client " + std::to_string(client) + " is not registered with this store (closed or reaped?)");
}

void Store::reap_client(uint32_t client) {
  Lock lock(*this);
  check_client(client);
  reap_locked(client);
}

void Store::erase_pin_record(uint32_t client, PinRecord* r) {
  pins().erase(r);
  uint32_t& n = arena_.clients()[client].pin_records;
  if (n > 0) --n;
}

void Store::reap_locked(uint32_t client) {
  ObjectTable t = table();
  ClientSlot& c = arena_.clients()[client];
  for (uint32_t i = 0; c.unsealed > 0 && i < t.slots(); ++i) {
    ObjectEntry& e = t.at(i);
    if (e.state == kObjectCreated && e.creator == client) erase_locked(i);
  }
  PinTable p = pins();
  for (uint32_t i = 0; c.pin_records > 0 && i < p.slots(); ++i) {
    PinRecord& r = p.at(i);
    if (r.client_plus1 != client + 1) continue;
    uint32_t slot = r.object, count = r.count;
    erase_pin_record(client, &r);
    ObjectEntry& e = t.at(slot);
    if (!ObjectTable::is_live(e.state)) continue;
    e.pins = e.pins > count ? e.pins - count : 0;
    if (e.pins == 0) unpinned_locked(slot);
  }
  c.unsealed = c.pin_records = 0;
  publish_state(&c.active, 0);
  ++hdr()->state.reaped_clients;
}

int Store::reap_dead_clients() {
  Lock lock(*this);
  int reaped = 0;
  ClientSlot* c = arena_.clients();
  for (uint32_t i = 0; i < hdr()->max_clients; ++i) {
    if (c[i].active && !proc::process_alive(c[i].pid, c[i].start_time)) {
      reap_locked(i);
      ++reaped;
    }
  }
  return reaped;
}

// ---------------------------------------------------------------------------
// LRU lists of unpinned sealed objects

void Store::lru_push(uint32_t slot) {
  ObjectTable t = table();
  ObjectEntry& e = t.at(slot);
  if (e.in_lru) return;
  StoreState& s = hdr()->state;
  int list = e.primary ? kSpillList : kEvictList;
  e.lru_prev = s.lru_tail[list];
  e.lru_next = kNoSlot;
  if (s.lru_tail[list] != kNoSlot)
    t.at(s.lru_tail[list]).lru_next = slot;
  else
    s.lru_head[list] = slot;
  s.lru_tail[list] = slot;
  s.lru_bytes[list] += Allocator::block_size_for(e.data_size + e.metadata_size);
  e.lru_tick = ++s.tick;
  e.in_lru = 1;
}

void Store::lru_remove(uint32_t slot) {
  ObjectTable t = table();
  ObjectEntry& e = t.at(slot);
  if (!e.in_lru) return;
  StoreState& s = hdr()->state;
  int list = e.primary ? kSpillList : kEvictList;
  if (e.lru_prev != kNoSlot)
    t.at(e.lru_prev).lru_next = e.lru_next;
  else
    s.lru_head[list] = e.lru_next;
  if (e.lru_next != kNoSlot)
    t.at(e.lru_next).lru_prev = e.lru_prev;
  else
    s.lru_tail[list] = e.lru_prev;
  s.lru_bytes[list] -= Allocator::block_size_for(e.data_size + e.metadata_size);
  e.lru_prev = e.lru_next = kNoSlot;
  e.in_lru = 0;
}

// ---------------------------------------------------------------------------
// Space

bool Store::ensure_committed(uint64_t end) {
  StoreState& s = hdr()->state;
  if (end <= s.committed) return true;
  const ShmSegment& seg = arena_.segment();
  uint64_t target = std::min<uint64_t>(hdr()->data_end, (end + kCommitChunk - 1) & ~(kCommitChunk - 1));
  if (seg.allocate_backing(s.committed, target - s.committed) != 0) {
    // Not a whole chunk: maybe just what this allocation needs.
    target = std::min<uint64_t>(hdr()->data_end, (end + (2ull << 20) - 1) & ~((2ull << 20) - 1));
    if (seg.allocate_backing(s.committed, target - s.committed) != 0) return false;
  }
  // Map the fresh pages here: the process that allocates is the one about to write them.
  seg.prefault(s.committed, target - s.committed);
  s.committed = target;  // only after the pages are really backed
  return true;
}

uint64_t Store::allocate_locked(uint64_t payload, const ObjectId& for_id) {
  Allocator a = alloc();
  StoreState& s = hdr()->state;
  const bool can_spill = hdr()->spill_dir[0] != 0;
  uint64_t need = Allocator::block_size_for(payload);
  auto full = [&](const std::string& why) {
    uint64_t pinned_or_unsealed = a.capacity() - a.free_bytes() - s.lru_bytes[kEvictList] - s.lru_bytes[kSpillList];
    return StoreError(StoreErrorCode::kObjectStoreFull,
                      "the object store is full: asked for " + size_text(payload) + " (object " + for_id.hex() + "), " +
                          size_text(a.free_bytes()) + " free (largest free block " + size_text(a.largest_free_block()) +
                          ") of capacity " + size_text(a.capacity()) + ", " + size_text(pinned_or_unsealed) +
                          " held by pinned or unsealed objects" + why +
                          "; raise objectStoreMemory (init option) or release/delete objects");
  };
  bool checked = false;
  for (;;) {
    uint64_t off = a.allocate(payload);
    if (off) {
      if (ensure_committed(off + payload)) return off;
      int err = errno;
      a.free(off);
      throw full(std::string(" (the system could not back more shared memory: ") + std::strerror(err) + ")");
    }
    // Refuse before evicting anything when even evicting everything could not make room.
    if (!checked) {
      uint64_t reachable = a.free_bytes() + s.lru_bytes[kEvictList] + (can_spill ? s.lru_bytes[kSpillList] : 0);
      if (reachable < need) throw full(can_spill ? "" : " (spilling is disabled: no spillDir)");
      checked = true;
    }
    if (s.lru_head[kEvictList] != kNoSlot)
      evict_locked(s.lru_head[kEvictList]);
    else if (can_spill && s.lru_head[kSpillList] != kNoSlot)
      spill_locked(s.lru_head[kSpillList]);
    else
      throw full(" (fragmented: no free block is large enough)");
  }
}

void Store::make_table_room(const ObjectId& for_id) {
  ObjectTable t = table();
  StoreState& s = hdr()->state;
  while (t.full()) {
    if (s.lru_head[kEvictList] == kNoSlot)
      throw StoreError(StoreErrorCode::kTooManyObjects,
                       "the object table is full: " + std::to_string(t.max_objects()) +
                           " objects are stored, so object " + for_id.hex() +
                           " cannot be added; raise maxObjects (init option) or release/delete objects");
    evict_locked(s.lru_head[kEvictList]);
  }
}

void Store::erase_locked(uint32_t slot) {
  ObjectTable t = table();
  ObjectEntry& e = t.at(slot);
  StoreState& s = hdr()->state;
  uint64_t off = e.state == kObjectSpilled ? 0 : e.data_offset;
  if (e.state == kObjectCreated)
    --s.objects_unsealed;
  else if (e.state == kObjectSealed)
    --s.objects_sealed;
  else if (e.state == kObjectSpilled) {
    --s.objects_spilled;
    s.bytes_spilled_now -= e.data_size + e.metadata_size;
  }
  if (e.state == kObjectCreated && e.creator < hdr()->max_clients) {
    uint32_t& n = arena_.clients()[e.creator].unsealed;
    if (n > 0) --n;
  }
  lru_remove(slot);
  t.erase(slot);  // the table first: a crash here leaves a block the repair frees
  crash_point("erase:unlinked");
  if (off) alloc().free(off);
}

void Store::evict_locked(uint32_t slot) {
  ObjectEntry& e = table().at(slot);
  StoreState& s = hdr()->state;
  ++s.evicted;
  s.evicted_bytes += e.data_size + e.metadata_size;
  erase_locked(slot);
}

std::string Store::spill_file(uint32_t slot) const {
  const ObjectEntry& e = table().at(slot);
  return spill_path(hdr()->spill_dir, hdr()->spill_salt, kSpillSaltBytes, ObjectId::from(e.id).hex(), e.spill_seq);
}

void Store::spill_locked(uint32_t slot) {
  ObjectTable t = table();
  ObjectEntry& e = t.at(slot);
  StoreState& s = hdr()->state;
  uint64_t bytes = e.data_size + e.metadata_size;
  uint64_t seq = ++s.spill_seq;
  std::string path = spill_path(hdr()->spill_dir, hdr()->spill_salt, kSpillSaltBytes, ObjectId::from(e.id).hex(), seq);
  std::string err = spill_write(path, base() + e.data_offset, bytes);
  if (!err.empty())
    throw StoreError(StoreErrorCode::kObjectStoreFull,
                     "the object store is full and spilling failed: " + err +
                         "; raise objectStoreMemory (init option), free space in spillDir, or release/delete objects");
  lru_remove(slot);
  uint64_t off = e.data_offset;
  e.spill_seq = seq;
  publish_state(&e.state, kObjectSpilled);  // from here the entry no longer owns the block
  e.data_offset = 0;
  alloc().free(off);
  --s.objects_sealed;
  ++s.objects_spilled;
  s.bytes_spilled_now += bytes;
  ++s.spilled;
  s.spilled_bytes += bytes;
}

void Store::restore_locked(uint32_t slot) {
  ObjectTable t = table();
  StoreState& s = hdr()->state;
  uint64_t bytes = t.at(slot).data_size + t.at(slot).metadata_size;
  uint64_t off = allocate_locked(bytes, ObjectId::from(t.at(slot).id));
  ObjectEntry& e = t.at(slot);
  std::string path = spill_file(slot);
  std::string err = spill_read(path, base() + off, bytes);
  if (!err.empty()) {
    alloc().free(off);
    throw StoreError(StoreErrorCode::kSpillFailed, "cannot restore spilled object " + ObjectId::from(e.id).hex() +
                                                       ": " + err + " (was the spill directory cleaned?)");
  }
  e.data_offset = off;
  publish_state(&e.state, kObjectSealed);
  // Restored objects are back in memory: the file is no longer needed (a later spill writes a new one).
  spill_remove(path);
  --s.objects_spilled;
  s.bytes_spilled_now -= bytes;
  ++s.objects_sealed;
  ++s.restored;
  s.restored_bytes += bytes;
}

// ---------------------------------------------------------------------------
// Operations

uint32_t Store::find_or_throw(const ObjectId& id, const char* op) const {
  uint32_t slot = table().find(id);
  if (slot == kNoSlot)
    throw StoreError(StoreErrorCode::kObjectNotFound,
                     std::string(op) + ": object " + id.hex() + " is not in the store");
  return slot;
}

uint64_t Store::create(uint32_t client, const ObjectId& id, uint64_t data_size, const uint8_t* metadata,
                       uint64_t metadata_size, bool primary) {
  uint64_t cap = capacity();
  if (data_size > cap || metadata_size > cap || data_size + metadata_size > cap)
    throw StoreError(StoreErrorCode::kInvalidSize, "create: object " + id.hex() + " of " + size_text(data_size) +
                                                       " data + " + size_text(metadata_size) +
                                                       " metadata can never fit a store of " + size_text(cap) +
                                                       "; raise objectStoreMemory");
  Lock lock(*this);
  check_client(client);
  ObjectTable t = table();
  if (uint32_t existing = t.find(id); existing != kNoSlot) {
    const ObjectEntry& e = t.at(existing);
    throw StoreError(StoreErrorCode::kObjectExists, "create: object " + id.hex() + " already exists (" +
                                                        (e.state == kObjectCreated ? "unsealed"
                                                         : e.delete_pending        ? "being deleted"
                                                                                   : "sealed") +
                                                        "); ids must be unique");
  }
  make_table_room(id);
  uint64_t off = allocate_locked(data_size + metadata_size, id);
  crash_point("create:allocated");
  uint32_t slot = t.claim(id);
  ObjectEntry& e = t.at(slot);
  std::memcpy(e.id, id.bytes.data(), kObjectIdSize);
  e.data_offset = off;
  e.data_size = data_size;
  e.metadata_size = metadata_size;
  e.lru_tick = 0;
  e.spill_seq = 0;
  e.creator = client;
  e.pins = 0;
  e.lru_prev = e.lru_next = kNoSlot;
  e.primary = primary ? 1 : 0;
  e.delete_pending = 0;
  e.in_lru = 0;
  if (metadata_size) std::memcpy(base() + off + data_size, metadata, metadata_size);
  t.publish(slot, kObjectCreated);
  ++hdr()->state.objects_unsealed;
  ++arena_.clients()[client].unsealed;
  crash_point("create:published");
  return off;
}

void Store::seal(uint32_t client, const ObjectId& id) {
  {
    Lock lock(*this);
    check_client(client);
    uint32_t slot = find_or_throw(id, "seal");
    ObjectEntry& e = table().at(slot);
    if (e.state != kObjectCreated)
      throw StoreError(StoreErrorCode::kObjectAlreadySealed, "seal: object " + id.hex() + " is already sealed");
    if (e.creator != client)
      throw StoreError(StoreErrorCode::kNotCreator,
                       "seal: object " + id.hex() + " was created by another client; only its creator may seal it");
    publish_state(&e.state, kObjectSealed);
    --hdr()->state.objects_unsealed;
    uint32_t& mine = arena_.clients()[client].unsealed;
    if (mine > 0) --mine;
    ++hdr()->state.objects_sealed;
    if (e.pins == 0) lru_push(slot);
  }
  hdr()->seal_epoch.fetch_add(1, std::memory_order_seq_cst);
  if (hdr()->seal_waiters.load(std::memory_order_seq_cst) > 0) futex_wake(&hdr()->seal_epoch, INT_MAX);
}

void Store::abort(uint32_t client, const ObjectId& id) {
  Lock lock(*this);
  check_client(client);
  uint32_t slot = find_or_throw(id, "abort");
  ObjectEntry& e = table().at(slot);
  if (e.state != kObjectCreated)
    throw StoreError(StoreErrorCode::kObjectAlreadySealed,
                     "abort: object " + id.hex() + " is already sealed; delete it instead");
  if (e.creator != client)
    throw StoreError(StoreErrorCode::kNotCreator,
                     "abort: object " + id.hex() + " was created by another client; only its creator may abort it");
  erase_locked(slot);
}

void Store::pin_locked(uint32_t client, uint32_t slot) {
  PinTable p = pins();
  PinRecord* r = p.find_or_insert(client, slot);
  if (!r)
    throw StoreError(
        StoreErrorCode::kTooManyPins,
        "get: too many (client, object) pins are held; release objects you no longer read or raise maxObjects");
  ObjectEntry& e = table().at(slot);
  if (r->count++ == 0) ++arena_.clients()[client].pin_records;
  if (e.pins == 0) lru_remove(slot);
  ++e.pins;
}

GetResult Store::get(uint32_t client, const ObjectId& id) {
  Lock lock(*this);
  check_client(client);
  GetResult out;
  uint32_t slot = table().find(id);
  if (slot == kNoSlot) return out;
  ObjectEntry& e = table().at(slot);
  if (e.delete_pending) return out;
  if (e.state == kObjectCreated) {
    out.status = e.creator == client ? GetStatus::kOwnUnsealed : GetStatus::kUnsealed;
    return out;
  }
  if (e.state == kObjectSpilled) restore_locked(slot);
  pin_locked(client, slot);
  out.status = GetStatus::kReady;
  out.data_offset = e.data_offset;
  out.data_size = e.data_size;
  out.metadata_size = e.metadata_size;
  return out;
}

void Store::unpinned_locked(uint32_t slot) {
  ObjectEntry& e = table().at(slot);
  if (e.delete_pending)
    erase_locked(slot);
  else if (e.state == kObjectSealed)
    lru_push(slot);
}

void Store::release(uint32_t client, const ObjectId& id) {
  Lock lock(*this);
  check_client(client);
  uint32_t slot = table().find(id);
  PinRecord* r = slot == kNoSlot ? nullptr : pins().find(client, slot);
  if (!r)
    throw StoreError(StoreErrorCode::kNotPinned,
                     "release: object " + id.hex() + " is not pinned by this client (released twice, or never got?)");
  if (--r->count == 0) erase_pin_record(client, r);
  ObjectEntry& e = table().at(slot);
  if (--e.pins == 0) unpinned_locked(slot);
}

bool Store::contains(const ObjectId& id) {
  Lock lock(*this);
  uint32_t slot = table().find(id);
  if (slot == kNoSlot) return false;
  const ObjectEntry& e = table().at(slot);
  return (e.state == kObjectSealed || e.state == kObjectSpilled) && !e.delete_pending;
}

void Store::remove(uint32_t client, const ObjectId& id) {
  Lock lock(*this);
  check_client(client);
  uint32_t slot = find_or_throw(id, "delete");
  ObjectEntry& e = table().at(slot);
  if (e.state == kObjectCreated)
    throw StoreError(StoreErrorCode::kObjectNotSealed,
                     "delete: object " + id.hex() + " is not sealed; its creator aborts it instead");
  if (e.state == kObjectSpilled) {
    spill_remove(spill_file(slot));
    erase_locked(slot);
  } else if (e.pins > 0) {
    e.delete_pending = 1;  // the last release deletes it
  } else {
    erase_locked(slot);
  }
}

std::vector<ObjectInfo> Store::list() {
  Lock lock(*this);
  std::vector<ObjectInfo> out;
  ObjectTable t = table();
  out.reserve(t.live());
  for (uint32_t i = 0; i < t.slots(); ++i) {
    const ObjectEntry& e = t.at(i);
    if (!ObjectTable::is_live(e.state)) continue;
    int32_t pid = e.creator < hdr()->max_clients ? arena_.clients()[e.creator].pid : 0;
    out.push_back({ObjectId::from(e.id), static_cast<ObjectState>(e.state), e.data_size, e.metadata_size, e.pins,
                   e.primary != 0, e.delete_pending != 0, pid});
  }
  return out;
}

StoreStats Store::stats() {
  Lock lock(*this);
  const StoreState& s = hdr()->state;
  Allocator a = alloc();
  ObjectTable t = table();
  StoreStats out{};
  out.capacity = a.capacity();
  out.used = a.capacity() - a.free_bytes();
  out.committed = s.committed - hdr()->data_begin;
  out.objects = t.live();
  out.sealed = s.objects_sealed;
  out.unsealed = s.objects_unsealed;
  out.spilled_now = s.objects_spilled;
  for (uint32_t i = 0; i < t.slots(); ++i)
    if (ObjectTable::is_live(t.at(i).state) && t.at(i).pins) ++out.pinned;
  out.max_objects = t.max_objects();
  for (uint32_t i = 0; i < hdr()->max_clients; ++i) out.clients += arena_.clients()[i].active ? 1 : 0;
  out.evicted = s.evicted;
  out.evicted_bytes = s.evicted_bytes;
  out.spilled = s.spilled;
  out.spilled_bytes = s.spilled_bytes;
  out.restored = s.restored;
  out.restored_bytes = s.restored_bytes;
  out.repairs = s.repairs;
  out.reaped_clients = s.reaped_clients;
  return out;
}

bool Store::wait_for_seal(uint32_t epoch, int64_t timeout_ns) {
  ArenaHeader* h = hdr();
  h->seal_waiters.fetch_add(1, std::memory_order_seq_cst);
  bool woke = true;
  if (h->seal_epoch.load(std::memory_order_seq_cst) == epoch) woke = futex_wait(&h->seal_epoch, epoch, timeout_ns);
  h->seal_waiters.fetch_sub(1, std::memory_order_seq_cst);
  return woke || h->seal_epoch.load(std::memory_order_seq_cst) != epoch;
}

void Store::wake_seal_waiters() { futex_wake(&hdr()->seal_epoch, INT_MAX); }

void Store::remove_spill_files() {
  Lock lock(*this);
  ObjectTable t = table();
  // The counter spares a scan of the whole table (many MiB of shared pages on a large arena).
  for (uint32_t i = 0; hdr()->state.objects_spilled > 0 && i < t.slots(); ++i) {
    if (t.at(i).state != kObjectSpilled) continue;
    spill_remove(spill_file(i));
    erase_locked(i);
  }
}

}  // namespace sunray::store
