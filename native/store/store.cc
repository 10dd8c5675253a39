// The object store's operations: create, seal, abort, get (pins), release,
// contains, remove, list, stats and the seal epoch waiters, with the LRU lists
// and erasing that they use on every call. Making room (allocation, eviction,
// spilling) is store_space.cc, clients are store_clients.cc, crash repair is
// store_repair.cc.
#include "store/store.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "common/futex.h"
#include "store/spill.h"
#include "store/store_internal.h"
#include "store/store_lock.h"

namespace sunray::store {

void (*g_store_crash_point)(const char* point) = nullptr;

std::unique_ptr<Store> Store::create(const ArenaOptions& opts) {
  auto s = std::unique_ptr<Store>(new Store(Arena::create(opts)));
  s->mark_mapped(s->hdr()->data_begin, s->hdr()->state.committed);  // create() mapped its first pages
  return s;
}
std::unique_ptr<Store> Store::attach_fd(int fd) { return std::unique_ptr<Store>(new Store(Arena::attach_fd(fd))); }
std::unique_ptr<Store> Store::attach_path(const std::string& path) {
  return std::unique_ptr<Store>(new Store(Arena::attach_path(path)));
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
  if (e.pins > 0 && e.state == kObjectSealed) pinned_sub(e);  // (pins go first; kept exact anyway)
  t.erase(slot);  // the table first: a crash here leaves a block the repair frees
  crash_point("erase:unlinked");
  if (off) alloc().free(off);
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
  if (e.pins == 0) {
    lru_remove(slot);
    pinned_add(e);
  }
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
  if (--e.pins == 0) {
    pinned_sub(e);
    unpinned_locked(slot);
  }
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
  out.pinned = s.pinned_objects;
  out.pinned_bytes = s.pinned_bytes;
  out.spilled_bytes_now = s.bytes_spilled_now;
  out.spill_limit = hdr()->spill_limit;
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
