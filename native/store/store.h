// The plasma-style object store over one Arena. Every operation takes the
// arena's robust mutex; a process killed while holding it makes the next
// locker repair the store (see repair()). Mutations are ordered so that the
// object table is the source of truth: the allocator's free lists, the LRU
// lists and the counters can all be rebuilt from it.
//
// Lifecycle: create (unsealed, writable by its creator) -> seal (immutable,
// visible, wakes waiters) -> get (pins) -> release; abort for unsealed
// objects; remove deletes at once, or when the last pin goes.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "store/arena.h"
#include "store/object_id.h"
#include "store/store_error.h"

namespace sunray::store {

enum class GetStatus { kReady, kAbsent, kUnsealed, kOwnUnsealed };

struct GetResult {
  GetStatus status = GetStatus::kAbsent;
  uint64_t data_offset = 0;  // from the arena base; metadata follows the data
  uint64_t data_size = 0;
  uint64_t metadata_size = 0;
};

struct ObjectInfo {
  ObjectId id;
  ObjectState state;
  uint64_t data_size;
  uint64_t metadata_size;
  uint32_t pins;
  bool primary;
  bool delete_pending;
  int32_t creator_pid;
};

struct StoreStats {
  uint64_t capacity;   // data-area bytes
  uint64_t used;       // bytes in allocated blocks (headers included)
  uint64_t committed;  // data-area bytes backed by real pages (the warmer keeps it ahead of use)
  uint64_t objects;    // live entries (unsealed + sealed + spilled)
  uint64_t sealed;
  uint64_t unsealed;
  uint64_t spilled_now;
  uint64_t pinned;             // objects with at least one pin
  uint64_t pinned_bytes;       // their data + metadata bytes
  uint64_t spilled_bytes_now;  // data + metadata bytes in spill files now
  uint64_t spill_limit;        // most bytes the spill files may hold; 0 = no limit
  uint64_t max_objects;
  uint64_t clients;
  uint64_t evicted, evicted_bytes;
  uint64_t spilled, spilled_bytes;
  uint64_t restored, restored_bytes;
  uint64_t repairs;
  uint64_t reaped_clients;
};

// Test hook: called at named points inside operations (with the lock held),
// so a test can kill a process at exactly that point. nullptr in production.
extern void (*g_store_crash_point)(const char* point);

class Store {
 public:
  static std::unique_ptr<Store> create(const ArenaOptions& opts);
  static std::unique_ptr<Store> attach_fd(int fd);
  static std::unique_ptr<Store> attach_path(const std::string& path);

  // Registers this process (pid + start time) and returns its client slot.
  uint32_t register_client();
  // Drops this client: aborts its unsealed objects, drops its pins, frees the slot.
  void unregister_client(uint32_t client) { reap_client(client); }

  uint64_t create(uint32_t client, const ObjectId& id, uint64_t data_size, const uint8_t* metadata,
                  uint64_t metadata_size, bool primary = true);
  void seal(uint32_t client, const ObjectId& id);
  void abort(uint32_t client, const ObjectId& id);
  GetResult get(uint32_t client, const ObjectId& id);
  void release(uint32_t client, const ObjectId& id);
  bool contains(const ObjectId& id);
  void remove(uint32_t client, const ObjectId& id);
  std::vector<ObjectInfo> list();
  StoreStats stats();

  // The seal epoch changes on every seal. Read it, check what you wait for,
  // then wait_for_seal(epoch): no seal in between can be missed.
  uint32_t seal_epoch() const { return hdr()->seal_epoch.load(std::memory_order_seq_cst); }
  // False on timeout (timeout_ns < 0: forever).
  bool wait_for_seal(uint32_t epoch, int64_t timeout_ns);
  // Wakes every seal waiter (used to stop a waiter thread).
  void wake_seal_waiters();

  void reap_client(uint32_t client);
  // Reaps every registered client whose process is gone; returns how many.
  int reap_dead_clients();
  // Deletes the spill files of every spilled object (the creator does it on close).
  void remove_spill_files();

  uint8_t* base() const { return arena_.base(); }
  uint64_t mapping_size() const { return arena_.segment().size(); }
  uint64_t capacity() const { return arena_.data_capacity(); }
  int fd() const { return arena_.segment().fd(); }
  std::string path() const { return arena_.segment().proc_path(); }
  std::string spill_dir() const { return hdr()->spill_dir; }
  Arena& arena() { return arena_; }

  // Pages (store_pages.cc), for the creator's Warmer. Where warming should reach: `window`
  // bytes past the highest offset ever allocated, within the data area.
  uint64_t warm_target(uint64_t window) const;
  // Backs [from, to) with pages written once and mapped here; false when the system has
  // no memory to back them. The Warmer and ensure_committed (an allocation past it) use it.
  bool back_range(uint64_t from, uint64_t to);
  // Moves the backed end from `from` (or anywhere in [from, to)) to `to`: [from, to) is backed.
  void advance_committed(uint64_t from, uint64_t to);
  // The end (arena offset) of the pages backed so far.
  uint64_t warmed_end() const;
  // Maps [offset, offset + len) into this process before a bulk write or read, unless
  // it is small or already mapped here (the kernel maps a run far faster than faults).
  void map_range(uint64_t offset, uint64_t len);
  static constexpr uint64_t kPageChunk = 2ull << 20;    // granularity of the mapped map
  static constexpr uint64_t kMapRangeMin = 1ull << 20;  // smaller objects just fault

  ~Store();

  // Full consistency check (tests): allocator, table, LRU, pins, counters.
  bool check(std::string* why);
  // Runs the crash-repair pass now (tests; normally only after EOWNERDEAD).
  void repair_now();

 private:
  explicit Store(Arena arena) : arena_(std::move(arena)) { init_page_map(); }
  void init_page_map();
  void mark_mapped(uint64_t from, uint64_t to);
  bool is_mapped(uint64_t chunk) const {
    return mapped_[chunk / 64].load(std::memory_order_relaxed) & (uint64_t{1} << (chunk % 64));
  }
  class Lock;
  ArenaHeader* hdr() const { return arena_.header(); }
  ObjectTable table() const { return ObjectTable(arena_.base(), &hdr()->objects); }
  PinTable pins() const { return PinTable(arena_.base(), &hdr()->pins); }
  Allocator alloc() const { return Allocator(arena_.base(), &hdr()->alloc); }

  void check_client(uint32_t client) const;
  uint32_t find_or_throw(const ObjectId& id, const char* op) const;
  // Allocates, evicting and spilling as needed; throws ObjectStoreFull.
  // spill_credit: spilled bytes about to be freed (a restore's own file), counted as spill room.
  uint64_t allocate_locked(uint64_t payload, const ObjectId& for_id, uint64_t spill_credit = 0);
  // Bytes the spill files may still take (UINT64_MAX: no limit), counting credit as free.
  uint64_t spill_room(uint64_t credit) const;
  // Block bytes spilling could free within room bytes of spill space, as allocate_locked spills.
  uint64_t spillable_block_bytes(uint64_t room) const;
  bool ensure_committed(uint64_t end);
  void make_table_room(const ObjectId& for_id);
  void lru_push(uint32_t slot);
  void lru_remove(uint32_t slot);
  void evict_locked(uint32_t slot);
  void spill_locked(uint32_t slot);
  void restore_locked(uint32_t slot);
  void erase_locked(uint32_t slot);  // table first, then the block
  void unpinned_locked(uint32_t slot);
  // Keep the pinned counters as an object's pin total goes from 0 to 1 and back.
  void pinned_add(const ObjectEntry& e);
  void pinned_sub(const ObjectEntry& e);
  // What the store holds now, for ObjectStoreFull messages (memory, pins, spill space).
  std::string space_text() const;
  void pin_locked(uint32_t client, uint32_t slot);
  void erase_pin_record(uint32_t client, PinRecord* r);  // keeps the client's pin_records count
  void reap_locked(uint32_t client);
  void repair_locked();
  std::string spill_file(uint32_t slot) const;

  Arena arena_;
  // This process's map of which kPageChunk chunks of the data area it has mapped.
  std::unique_ptr<std::atomic<uint64_t>[]> mapped_;
};

}  // namespace sunray::store
