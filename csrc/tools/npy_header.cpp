#include "npy_header.h"

#include <cstdio>
#include <cstring>

namespace fdal_tools {

namespace {

const unsigned char kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

// A cursor over the dict text; every step skips spaces first.
struct Cursor {
  const char* p;
  const char* end;
  void skip_spaces() {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) ++p;
  }
  bool eat(char c) {
    skip_spaces();
    if (p < end && *p == c) {
      ++p;
      return true;
    }
    return false;
  }
  // A quoted string ('...' or "...") copied into out (truncated to out_size - 1).
  bool string(char* out, std::size_t out_size) {
    skip_spaces();
    if (p >= end || (*p != '\'' && *p != '"')) return false;
    const char quote = *p++;
    std::size_t n = 0;
    while (p < end && *p != quote) {
      if (n + 1 < out_size) out[n++] = *p;
      ++p;
    }
    out[n] = '\0';
    if (p >= end) return false;
    ++p;
    return true;
  }
  bool word(const char* w) {
    skip_spaces();
    const std::size_t n = std::strlen(w);
    if (std::size_t(end - p) < n || std::memcmp(p, w, n) != 0) return false;
    p += n;
    return true;
  }
  bool integer(std::int64_t* out) {
    skip_spaces();
    if (p >= end || *p < '0' || *p > '9') return false;
    std::int64_t v = 0;
    while (p < end && *p >= '0' && *p <= '9') {
      if (v > (INT64_MAX - 9) / 10) return false;  // absurd dimension: refuse instead of wrapping
      v = v * 10 + (*p++ - '0');
    }
    if (p < end && *p == 'L') ++p;  // Python 2 long literal
    *out = v;
    return true;
  }
};

bool fail(char* error, std::size_t error_size, const char* message) {
  std::snprintf(error, error_size, "%s", message);
  return false;
}

}  // namespace

bool is_npy(const unsigned char* bytes, std::size_t size) {
  return size >= sizeof(kMagic) && std::memcmp(bytes, kMagic, sizeof(kMagic)) == 0;
}

bool npy_header_size(const unsigned char* preamble, std::size_t size, std::int64_t* header_size,
                     char* error, std::size_t error_size) {
  if (size < 10 || !is_npy(preamble, size)) {
    return fail(error, error_size, "not a .npy file (bad magic or truncated preamble)");
  }
  const int major = preamble[6];
  if (major == 1) {
    *header_size = 10 + std::int64_t(preamble[8] | (preamble[9] << 8));
    return true;
  }
  if (major == 2) {
    if (size < kNpyPreambleBytes) return fail(error, error_size, ".npy preamble is truncated");
    const std::uint32_t len = std::uint32_t(preamble[8]) | (std::uint32_t(preamble[9]) << 8) |
                              (std::uint32_t(preamble[10]) << 16) | (std::uint32_t(preamble[11]) << 24);
    *header_size = 12 + std::int64_t(len);
    return true;
  }
  std::snprintf(error, error_size, ".npy format version %d.%d is not supported (only 1.0 and 2.0)",
                major, preamble[7]);
  return false;
}

bool parse_npy_header(const unsigned char* header, std::size_t size, NpyHeader* out, char* error,
                      std::size_t error_size) {
  std::int64_t expected = 0;
  if (!npy_header_size(header, size, &expected, error, error_size)) return false;
  if (std::int64_t(size) != expected) return fail(error, error_size, ".npy header is truncated");
  *out = NpyHeader();
  out->data_offset = expected;
  const std::size_t text_at = header[6] == 1 ? 10 : 12;
  Cursor c{reinterpret_cast<const char*>(header) + text_at, reinterpret_cast<const char*>(header) + size};
  bool have_descr = false, have_order = false, have_shape = false;
  if (!c.eat('{')) return fail(error, error_size, ".npy header is not a dict");
  while (!c.eat('}')) {
    char key[32];
    if (!c.string(key, sizeof(key)) || !c.eat(':')) {
      return fail(error, error_size, ".npy header dict is malformed");
    }
    if (std::strcmp(key, "descr") == 0) {
      if (!c.string(out->descr, sizeof(out->descr))) {
        return fail(error, error_size, ".npy header: 'descr' is not a string (structured arrays are not supported)");
      }
      have_descr = true;
    } else if (std::strcmp(key, "fortran_order") == 0) {
      if (c.word("False")) {
        out->fortran_order = false;
      } else if (c.word("True")) {
        out->fortran_order = true;
      } else {
        return fail(error, error_size, ".npy header: 'fortran_order' is not True or False");
      }
      have_order = true;
    } else if (std::strcmp(key, "shape") == 0) {
      if (!c.eat('(')) return fail(error, error_size, ".npy header: 'shape' is not a tuple");
      while (!c.eat(')')) {
        if (out->ndim == kNpyMaxDims) return fail(error, error_size, ".npy header: too many dimensions");
        if (!c.integer(&out->shape[out->ndim])) {
          return fail(error, error_size, ".npy header: 'shape' holds something other than integers");
        }
        ++out->ndim;
        if (!c.eat(',') && !c.eat(')')) return fail(error, error_size, ".npy header: 'shape' is malformed");
        if (c.p[-1] == ')') break;
      }
      have_shape = true;
    } else {
      return fail(error, error_size, ".npy header has an unknown key");
    }
    if (!c.eat(',') && !c.eat('}')) return fail(error, error_size, ".npy header dict is malformed");
    if (c.p[-1] == '}') break;
  }
  if (!have_descr || !have_order || !have_shape) {
    return fail(error, error_size, ".npy header lacks 'descr', 'fortran_order' or 'shape'");
  }
  return true;
}

}  // namespace fdal_tools
