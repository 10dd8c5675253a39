// A tiny dependency-free test harness for the C++ cores: each test file is one
// executable that ctest runs; a failed CHECK prints where and exits non-zero.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace sunray::testing {

struct TestCase {
  const char* name;
  std::function<void()> fn;
};

inline std::vector<TestCase>& registry() {
  static std::vector<TestCase> tests;
  return tests;
}

struct Registrar {
  Registrar(const char* name, std::function<void()> fn) { registry().push_back({name, std::move(fn)}); }
};

inline int run_all(int argc, char** argv) {
  const char* only = argc > 1 ? argv[1] : nullptr;
  int ran = 0;
  for (auto& t : registry()) {
    if (only && std::string(t.name).find(only) == std::string::npos) continue;
    std::fprintf(stderr, "[ RUN  ] %s\n", t.name);
    t.fn();
    std::fprintf(stderr, "[  OK  ] %s\n", t.name);
    ++ran;
  }
  std::fprintf(stderr, "%d test(s) passed\n", ran);
  return 0;
}

}  // namespace sunray::testing

#define SUNRAY_CAT2(a, b) a##b
#define SUNRAY_CAT(a, b) SUNRAY_CAT2(a, b)
#define TEST(name)                                                                            \
  static void SUNRAY_CAT(test_, name)();                                                      \
  static ::sunray::testing::Registrar SUNRAY_CAT(reg_, name)(#name, SUNRAY_CAT(test_, name)); \
  static void SUNRAY_CAT(test_, name)()

#define CHECK(cond)                                                                 \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::exit(1);                                                                 \
    }                                                                               \
  } while (0)

#define CHECK_EQ(a, b)                                                                        \
  do {                                                                                        \
    auto _va = (a);                                                                           \
    auto _vb = (b);                                                                           \
    if (!(_va == _vb)) {                                                                      \
      std::fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s\n", __FILE__, __LINE__, #a, #b); \
      std::exit(1);                                                                           \
    }                                                                                         \
  } while (0)

#define CHECK_THROWS(expr)                                                            \
  do {                                                                                \
    bool _threw = false;                                                              \
    try {                                                                             \
      (void)(expr);                                                                   \
    } catch (...) {                                                                   \
      _threw = true;                                                                  \
    }                                                                                 \
    if (!_threw) {                                                                    \
      std::fprintf(stderr, "%s:%d: expected throw: %s\n", __FILE__, __LINE__, #expr); \
      std::exit(1);                                                                   \
    }                                                                                 \
  } while (0)

#define TEST_MAIN() \
  int main(int argc, char** argv) { return ::sunray::testing::run_all(argc, argv); }
