// bulk_copy copies exactly, whether its source was never touched, partly touched or
// warm, and whether it is small or large; mostly_unmapped tells untouched memory from
// mapped memory.
#include "common/bulk_copy.h"

#include <sys/mman.h>

#include <cstring>
#include <vector>

#include "tests/check.h"

using namespace sunray;

namespace {

struct Anon {
  explicit Anon(size_t n) : len(n) {
    p = static_cast<uint8_t*>(mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  }
  ~Anon() { munmap(p, len); }
  uint8_t* p;
  size_t len;
};

}  // namespace

TEST(untouched_memory_is_mostly_unmapped_and_written_memory_is_not) {
  Anon a(8u << 20);
  CHECK(a.p != MAP_FAILED);
  CHECK(mostly_unmapped(a.p, a.len));
  std::memset(a.p, 7, a.len);
  CHECK(!mostly_unmapped(a.p, a.len));
}

TEST(a_copy_from_untouched_memory_reads_zeros) {
  Anon src(4u << 20);
  std::vector<uint8_t> dst(src.len, 0xAB);
  bulk_copy(dst.data(), src.p, src.len);
  for (size_t i = 0; i < dst.size(); i += 4093) CHECK_EQ(dst[i], 0);
  CHECK_EQ(dst.back(), 0);
}

TEST(a_copy_is_exact_at_unaligned_ends_and_partly_touched_sources) {
  Anon src(6u << 20);
  // Touch every other MiB with a pattern; the rest stays unmapped zero.
  for (size_t off = 0; off < src.len; off += 2u << 20)
    for (size_t i = 0; i < (1u << 20); ++i) src.p[off + i] = static_cast<uint8_t>((off + i) * 31 + 1);
  const size_t start = 123, len = src.len - 123 - 77;
  std::vector<uint8_t> dst(len + 2, 0xEE);
  bulk_copy(dst.data() + 1, src.p + start, len);
  CHECK_EQ(dst.front(), 0xEE);
  CHECK_EQ(dst.back(), 0xEE);
  CHECK(std::memcmp(dst.data() + 1, src.p + start, len) == 0);
}

TEST(a_small_copy_is_a_plain_copy) {
  uint8_t src[100], dst[100] = {};
  for (int i = 0; i < 100; ++i) src[i] = static_cast<uint8_t>(i);
  bulk_copy(dst, src, sizeof src);
  CHECK(std::memcmp(dst, src, sizeof src) == 0);
}
TEST_MAIN()
