// A two-level segregated-fit allocator (TLSF) over a region of shared memory.
// Everything is an offset from the mapping base, never a pointer, so every
// process that maps the arena can run it (under the arena's mutex).
//
// Each block starts with a 64-byte header (size, physical predecessor's size,
// free-list links); payloads are therefore 64-byte aligned. Free neighbours
// are merged at once (boundary tags), so no two free blocks are adjacent.
// allocate/free are O(1): two bitmaps find the smallest non-empty bin.
//
// The free lists are only a cache of what the object table says: after a
// crash, rebuild() rewrites every header from the list of live allocations.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sunray::store {

constexpr uint64_t kBlockAlign = 64;
constexpr uint64_t kBlockHeaderSize = 64;
constexpr int kSlLog2 = 4;
constexpr int kSlCount = 1 << kSlLog2;
constexpr int kFlCount = 32;
// Units are 64 bytes; fl = msb(units) - 3 must stay below kFlCount.
constexpr uint64_t kMaxRegionSize = 1ull << 40;

// Lives in the arena header. Plain words: only touched under the arena mutex.
struct AllocatorState {
  uint64_t begin;  // region [begin, end), offsets from the mapping base
  uint64_t end;
  uint64_t free_bytes;
  uint64_t fl_bitmap;
  uint32_t sl_bitmap[kFlCount];
  uint64_t heads[kFlCount][kSlCount];  // offset of the first free block, 0 = none
};

struct BlockHeader {
  uint64_t size;       // whole block, header included, multiple of 64
  uint64_t prev_size;  // physical predecessor's size; 0 for the first block
  uint64_t next_free;  // free-list links (offsets), 0 = none
  uint64_t prev_free;
  uint32_t tag;  // kFreeTag or kUsedTag
  uint32_t reserved;
  uint8_t pad[24];
};
static_assert(sizeof(BlockHeader) == kBlockHeaderSize);

class Allocator {
 public:
  static constexpr uint32_t kFreeTag = 0xF4EEB10Cu;
  static constexpr uint32_t kUsedTag = 0xA110CA7Eu;

  Allocator(uint8_t* base, AllocatorState* state) : base_(base), s_(state) {}

  // Makes [begin, end) one free block. Both must be 64-aligned, begin > 0.
  void init(uint64_t begin, uint64_t end);
  // The block size a payload needs.
  static uint64_t block_size_for(uint64_t payload) {
    return (payload + kBlockHeaderSize + kBlockAlign - 1) & ~(kBlockAlign - 1);
  }
  // Returns the payload offset, or 0 when no free block is large enough.
  uint64_t allocate(uint64_t payload);
  // Frees the block whose payload starts at payload_offset.
  void free(uint64_t payload_offset);
  // Size of the block holding this payload.
  uint64_t block_size(uint64_t payload_offset) const { return hdr(payload_offset - kBlockHeaderSize)->size; }
  // Forgets every free list and rebuilds the region from the live allocations:
  // (payload offset, payload size) pairs, sorted by offset, not overlapping.
  void rebuild(const std::vector<std::pair<uint64_t, uint64_t>>& live);

  uint64_t free_bytes() const { return s_->free_bytes; }
  uint64_t capacity() const { return s_->end - s_->begin; }
  // The largest block allocate() can hand out right now (for error messages).
  uint64_t largest_free_block() const;
  // Walks every block: sizes tile the region, predecessor sizes agree, no two
  // free blocks touch, every free block is on the right list once, free_bytes is right.
  bool check(std::string* why) const;

 private:
  BlockHeader* hdr(uint64_t off) const { return reinterpret_cast<BlockHeader*>(base_ + off); }
  static void mapping(uint64_t units, int* fl, int* sl);
  void insert_free(uint64_t off);
  // Takes free block `off` for a block of `need` bytes, splitting off the rest.
  uint64_t take(uint64_t off, uint64_t need);
  void remove_free(uint64_t off);
  void set_next_prev_size(uint64_t off);

  uint8_t* base_;
  AllocatorState* s_;
};

}  // namespace sunray::store
