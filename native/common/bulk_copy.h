// Copying many megabytes from memory that may never have been touched. A fresh
// buffer's pages are mapped one fault at a time as memcpy reads them (each ~0.6 us
// on the VMs we measured: 4.5 GB/s where memcpy of mapped pages runs at 20); the
// kernel maps a whole range in one call far faster (MADV_POPULATE_READ). Doing that
// for pages already mapped would halve the copy, so bulk_copy first asks which are
// (mincore: ~30 us for 80 MiB) and populates only when many are not. No Node dependency.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sunray {

// Below this, a plain memcpy: the checks would cost more than they save.
inline constexpr size_t kBulkCopyMin = 1u << 20;

// Whether more than 1/16 of the pages of [p, p + len) are not mapped in this process.
bool mostly_unmapped(const void* p, size_t len);

// memcpy(dst, src, len), populating src's pages first when it is large and mostly unmapped.
void bulk_copy(void* dst, const void* src, size_t len);

}  // namespace sunray
