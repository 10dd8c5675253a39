// The object store's clients: each process (or, in tests, thread) that uses
// the store registers a slot with its identity (common/proc.h); reaping a
// client whose process died aborts its unsealed objects and drops its pins.
#include <string>

#include "common/proc.h"
#include "store/store.h"
#include "store/store_internal.h"
#include "store/store_lock.h"

namespace sunray::store {

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
    bool was_pinned = e.pins > 0;
    e.pins = e.pins > count ? e.pins - count : 0;
    if (e.pins == 0) {
      if (was_pinned && e.state == kObjectSealed) pinned_sub(e);
      unpinned_locked(slot);
    }
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

}  // namespace sunray::store
