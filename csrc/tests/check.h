// A tiny test harness: CHECK-style macros that report file:line and keep going, and a main()
// helper. No framework, no allocation beyond what the checked code does.
#pragma once
#include <cstdio>
#include <cstring>

namespace fdal_test {

inline int& failures() {
  static int count = 0;
  return count;
}

inline void report(const char* file, int line, const char* what) {
  std::fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, what);
  ++failures();
}

// Prints a summary and returns the process exit status.
inline int finish(const char* name) {
  if (failures() == 0) {
    std::printf("%s: all checks passed\n", name);
    return 0;
  }
  std::printf("%s: %d check(s) failed\n", name, failures());
  return 1;
}

}  // namespace fdal_test

#define CHECK(cond) \
  do { if (!(cond)) fdal_test::report(__FILE__, __LINE__, #cond); } while (0)

#define CHECK_EQ(a, b)                                                                   \
  do {                                                                                   \
    const auto va_ = (a);                                                                \
    const auto vb_ = (b);                                                                \
    if (!(va_ == vb_)) {                                                                 \
      std::fprintf(stderr, "  %s = %lld, %s = %lld\n", #a, (long long)va_, #b, (long long)vb_); \
      fdal_test::report(__FILE__, __LINE__, #a " == " #b);                              \
    }                                                                                    \
  } while (0)

// Message check: `haystack` contains `needle`.
#define CHECK_CONTAINS(haystack, needle)                                                 \
  do {                                                                                   \
    const char* h_ = (haystack);                                                         \
    if (h_ == nullptr || std::strstr(h_, (needle)) == nullptr) {                         \
      std::fprintf(stderr, "  message: \"%s\"\n", h_ ? h_ : "(null)");                   \
      fdal_test::report(__FILE__, __LINE__, #haystack " contains \"" needle "\"");       \
    }                                                                                    \
  } while (0)
