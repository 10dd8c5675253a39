// The TLSF allocator's operations on its shared-memory blocks: see allocator.h.
#include "store/allocator.h"

#include <bit>
#include <cstring>

namespace sunray::store {

void Allocator::mapping(uint64_t units, int* fl, int* sl) {
  if (units < static_cast<uint64_t>(kSlCount)) {
    *fl = 0;
    *sl = static_cast<int>(units);
    return;
  }
  int msb = 63 - std::countl_zero(units);
  *fl = msb - kSlLog2 + 1;
  *sl = static_cast<int>((units >> (msb - kSlLog2)) - kSlCount);
}

void Allocator::init(uint64_t begin, uint64_t end) {
  std::memset(s_, 0, sizeof(*s_));
  s_->begin = begin;
  s_->end = end;
  if (end - begin < kBlockHeaderSize) return;
  BlockHeader* b = hdr(begin);
  b->size = end - begin;
  b->prev_size = 0;
  insert_free(begin);
}

void Allocator::insert_free(uint64_t off) {
  BlockHeader* b = hdr(off);
  int fl, sl;
  mapping(b->size / kBlockAlign, &fl, &sl);
  b->tag = kFreeTag;
  b->prev_free = 0;
  b->next_free = s_->heads[fl][sl];
  if (b->next_free) hdr(b->next_free)->prev_free = off;
  s_->heads[fl][sl] = off;
  s_->fl_bitmap |= 1ull << fl;
  s_->sl_bitmap[fl] |= 1u << sl;
  s_->free_bytes += b->size;
}

void Allocator::remove_free(uint64_t off) {
  BlockHeader* b = hdr(off);
  int fl, sl;
  mapping(b->size / kBlockAlign, &fl, &sl);
  if (b->prev_free)
    hdr(b->prev_free)->next_free = b->next_free;
  else
    s_->heads[fl][sl] = b->next_free;
  if (b->next_free) hdr(b->next_free)->prev_free = b->prev_free;
  if (!s_->heads[fl][sl]) {
    s_->sl_bitmap[fl] &= ~(1u << sl);
    if (!s_->sl_bitmap[fl]) s_->fl_bitmap &= ~(1ull << fl);
  }
  b->next_free = b->prev_free = 0;
  s_->free_bytes -= b->size;
}

void Allocator::set_next_prev_size(uint64_t off) {
  uint64_t next = off + hdr(off)->size;
  if (next < s_->end) hdr(next)->prev_size = hdr(off)->size;
}

uint64_t Allocator::allocate(uint64_t payload) {
  if (payload > kMaxRegionSize) return 0;
  uint64_t need = block_size_for(payload);
  uint64_t units = need / kBlockAlign;
  int fl, sl;
  // First look at the head of the request's own bin: a block freed with the
  // same size (the common case: objects of one size come and go) is reused
  // in place, which keeps warm pages in use.
  mapping(units, &fl, &sl);
  if (fl < kFlCount) {
    uint64_t head = s_->heads[fl][sl];
    if (head && hdr(head)->size >= need) return take(head, need);
  }
  // Round the request up to the next bin boundary so any block in the found bin fits.
  if (units >= static_cast<uint64_t>(kSlCount)) {
    int msb = 63 - std::countl_zero(units);
    units += (1ull << (msb - kSlLog2)) - 1;
  }
  mapping(units, &fl, &sl);
  if (fl >= kFlCount) return 0;
  uint32_t sl_map = s_->sl_bitmap[fl] & (~0u << sl);
  if (!sl_map) {
    uint64_t fl_map = fl + 1 < 64 ? s_->fl_bitmap & (~0ull << (fl + 1)) : 0;
    if (!fl_map) return 0;
    fl = std::countr_zero(fl_map);
    sl_map = s_->sl_bitmap[fl];
  }
  sl = std::countr_zero(sl_map);
  return take(s_->heads[fl][sl], need);
}

uint64_t Allocator::take(uint64_t off, uint64_t need) {
  remove_free(off);
  BlockHeader* b = hdr(off);
  // Split: keep the low part (warm pages are reused first), return the rest.
  if (b->size - need >= kBlockHeaderSize) {
    uint64_t rest = off + need;
    BlockHeader* r = hdr(rest);
    r->size = b->size - need;
    r->prev_size = need;
    b->size = need;
    set_next_prev_size(rest);
    insert_free(rest);
  }
  b->tag = kUsedTag;
  return off + kBlockHeaderSize;
}

void Allocator::free(uint64_t payload_offset) {
  uint64_t off = payload_offset - kBlockHeaderSize;
  BlockHeader* b = hdr(off);
  uint64_t next = off + b->size;
  if (next < s_->end && hdr(next)->tag == kFreeTag) {
    remove_free(next);
    b->size += hdr(next)->size;
  }
  if (b->prev_size) {
    uint64_t prev = off - b->prev_size;
    if (hdr(prev)->tag == kFreeTag) {
      remove_free(prev);
      hdr(prev)->size += b->size;
      b->tag = 0;
      off = prev;
      b = hdr(off);
    }
  }
  set_next_prev_size(off);
  insert_free(off);
}

void Allocator::rebuild(const std::vector<std::pair<uint64_t, uint64_t>>& live) {
  uint64_t begin = s_->begin, end = s_->end;
  std::memset(s_, 0, sizeof(*s_));
  s_->begin = begin;
  s_->end = end;
  uint64_t cursor = begin, prev_size = 0;
  auto place = [&](uint64_t off, uint64_t size, bool is_free) {
    BlockHeader* b = hdr(off);
    b->size = size;
    b->prev_size = prev_size;
    b->next_free = b->prev_free = 0;
    if (is_free)
      insert_free(off);
    else
      b->tag = kUsedTag;
    prev_size = size;
  };
  for (auto [payload, size] : live) {
    uint64_t off = payload - kBlockHeaderSize;
    if (off > cursor) place(cursor, off - cursor, true);
    uint64_t bs = block_size_for(size);
    place(off, bs, false);
    cursor = off + bs;
  }
  if (end - cursor >= kBlockHeaderSize) place(cursor, end - cursor, true);
}

uint64_t Allocator::largest_free_block() const {
  if (!s_->fl_bitmap) return 0;
  int fl = 63 - std::countl_zero(s_->fl_bitmap);
  int sl = 31 - std::countl_zero(s_->sl_bitmap[fl]);
  uint64_t best = 0;
  for (uint64_t off = s_->heads[fl][sl]; off; off = hdr(off)->next_free)
    if (hdr(off)->size > best) best = hdr(off)->size;
  return best > kBlockHeaderSize ? best - kBlockHeaderSize : 0;
}

bool Allocator::check(std::string* why) const {
  auto fail = [&](const std::string& m) {
    if (why) *why = m;
    return false;
  };
  uint64_t off = s_->begin, prev = 0, free_sum = 0, free_count = 0;
  bool prev_free = false;
  while (off < s_->end) {
    const BlockHeader* b = hdr(off);
    if (b->size < kBlockHeaderSize || b->size % kBlockAlign || off + b->size > s_->end)
      return fail("bad block size at " + std::to_string(off));
    if (b->prev_size != prev) return fail("prev_size mismatch at " + std::to_string(off));
    bool is_free = b->tag == kFreeTag;
    if (!is_free && b->tag != kUsedTag) return fail("bad tag at " + std::to_string(off));
    if (is_free && prev_free) return fail("adjacent free blocks at " + std::to_string(off));
    if (is_free) {
      free_sum += b->size;
      ++free_count;
    }
    prev_free = is_free;
    prev = b->size;
    off += b->size;
  }
  if (off != s_->end && s_->end - s_->begin >= kBlockHeaderSize) return fail("blocks do not tile the region");
  if (free_sum != s_->free_bytes) return fail("free_bytes mismatch");
  uint64_t listed = 0;
  for (int fl = 0; fl < kFlCount; ++fl) {
    for (int sl = 0; sl < kSlCount; ++sl) {
      bool bit = (s_->fl_bitmap >> fl & 1) && (s_->sl_bitmap[fl] >> sl & 1);
      if (bit != (s_->heads[fl][sl] != 0)) return fail("bitmap disagrees with list heads");
      uint64_t p = 0;
      for (uint64_t f = s_->heads[fl][sl]; f; f = hdr(f)->next_free) {
        if (hdr(f)->tag != kFreeTag) return fail("used block on a free list");
        if (hdr(f)->prev_free != p) return fail("broken free-list back link");
        int bfl, bsl;
        mapping(hdr(f)->size / kBlockAlign, &bfl, &bsl);
        if (bfl != fl || bsl != sl) return fail("free block in the wrong bin");
        p = f;
        if (++listed > free_count) return fail("free-list cycle or duplicate");
      }
    }
  }
  if (listed != free_count) return fail("free block missing from the lists");
  return true;
}

}  // namespace sunray::store
