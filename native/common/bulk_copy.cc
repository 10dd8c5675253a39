// Copying from possibly untouched memory: see bulk_copy.h.
#include "common/bulk_copy.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

namespace sunray {

namespace {
uintptr_t page_size() {
  static const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  return page;
}
}  // namespace

bool mostly_unmapped(const void* p, size_t len) {
  const uintptr_t page = page_size();
  uintptr_t start = reinterpret_cast<uintptr_t>(p) & ~(page - 1);
  uintptr_t end = (reinterpret_cast<uintptr_t>(p) + len + page - 1) & ~(page - 1);
  std::vector<unsigned char> resident((end - start) / page);
  if (mincore(reinterpret_cast<void*>(start), end - start, resident.data()) != 0) return false;
  size_t missing = 0;
  for (unsigned char r : resident) missing += (r & 1) == 0;
  return missing * 16 > resident.size();
}

void bulk_copy(void* dst, const void* src, size_t len) {
  if (len >= kBulkCopyMin && mostly_unmapped(src, len)) {
    const uintptr_t page = page_size();
    uintptr_t start = reinterpret_cast<uintptr_t>(src) & ~(page - 1);
    uintptr_t end = (reinterpret_cast<uintptr_t>(src) + len + page - 1) & ~(page - 1);
    // Best effort: a kernel without MADV_POPULATE_READ (before 5.14) faults as memcpy reads.
    (void)madvise(reinterpret_cast<void*>(start), end - start, MADV_POPULATE_READ);
  }
  std::memcpy(dst, src, len);
}

}  // namespace sunray
