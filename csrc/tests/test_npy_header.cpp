// The tool's .npy header parser: versions 1.0 and 2.0, key order, spacing, 1-tuples; and clear
// refusals for a bad magic, version 3, structured dtypes, non-integer shapes and truncation.
#include <cstdint>
#include <cstring>
#include <string>

#include "check.h"
#include "npy_header.h"

namespace {

using fdal_tools::NpyHeader;

// Builds a header the way numpy does: preamble + dict text padded with spaces and a newline.
std::string make_header(const std::string& dict, int major) {
  std::string text = dict;
  const std::size_t pre = major == 1 ? 10 : 12;
  while ((pre + text.size() + 1) % 64 != 0) text += ' ';
  text += '\n';
  std::string h("\x93NUMPY", 6);
  h += char(major);
  h += char(0);
  const std::size_t len = text.size();
  h += char(len & 0xFF);
  h += char((len >> 8) & 0xFF);
  if (major != 1) {
    h += char((len >> 16) & 0xFF);
    h += char((len >> 24) & 0xFF);
  }
  return h + text;
}

bool parse(const std::string& h, NpyHeader* out, char* err) {
  std::int64_t size = 0;
  const auto* bytes = reinterpret_cast<const unsigned char*>(h.data());
  if (!fdal_tools::npy_header_size(bytes, h.size(), &size, err, 256)) return false;
  if (size > std::int64_t(h.size())) size = std::int64_t(h.size()) + 1;  // forces "truncated"
  return fdal_tools::parse_npy_header(bytes, std::size_t(size), out, err, 256);
}

}  // namespace

int main() {
  char err[256];
  NpyHeader h;
  for (int major : {1, 2}) {
    const std::string text = make_header("{'descr': '|u1', 'fortran_order': False, 'shape': (10, 32, 32, 3), }", major);
    CHECK(parse(text, &h, err));
    CHECK(std::strcmp(h.descr, "|u1") == 0);
    CHECK(!h.fortran_order);
    CHECK_EQ(h.ndim, 4);
    CHECK_EQ(h.shape[0], 10);
    CHECK_EQ(h.shape[3], 3);
    CHECK_EQ(h.data_offset, std::int64_t(text.size()));
    CHECK_EQ(h.data_offset % 64, 0);
  }
  CHECK(parse(make_header("{\"shape\":(7,),\"fortran_order\":True,\"descr\":\"<i4\"}", 1), &h, err));
  CHECK_EQ(h.ndim, 1);
  CHECK_EQ(h.shape[0], 7);
  CHECK(h.fortran_order);
  CHECK(std::strcmp(h.descr, "<i4") == 0);
  CHECK(parse(make_header("{'descr': '|u1', 'fortran_order': False, 'shape': (), }", 1), &h, err));
  CHECK_EQ(h.ndim, 0);

  std::string bad_magic = make_header("{'descr': '|u1', 'fortran_order': False, 'shape': (1,), }", 1);
  bad_magic[1] = 'X';
  CHECK(!parse(bad_magic, &h, err));
  CHECK_CONTAINS(err, "not a .npy file");
  std::string v3 = make_header("{'descr': '|u1', 'fortran_order': False, 'shape': (1,), }", 2);
  v3[6] = 3;
  CHECK(!parse(v3, &h, err));
  CHECK_CONTAINS(err, "version 3.0 is not supported");
  CHECK(!parse(make_header("{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (1,), }", 1), &h, err));
  CHECK_CONTAINS(err, "structured");
  CHECK(!parse(make_header("{'descr': '|u1', 'fortran_order': False, 'shape': (1, x), }", 1), &h, err));
  CHECK_CONTAINS(err, "'shape'");
  CHECK(!parse(make_header("{'descr': '|u1', 'shape': (1,), }", 1), &h, err));
  CHECK_CONTAINS(err, "lacks");
  CHECK(!parse(make_header("{'descr': '|u1', 'fortran_order': Maybe, 'shape': (1,), }", 1), &h, err));
  CHECK_CONTAINS(err, "fortran_order");
  CHECK(!parse(make_header("{'descr': '|u1', 'fortran_order': False, 'shape': (99999999999999999999,), }", 1), &h, err));
  const std::string full = make_header("{'descr': '|u1', 'fortran_order': False, 'shape': (1,), }", 1);
  CHECK(!parse(full.substr(0, full.size() - 5), &h, err));
  CHECK_CONTAINS(err, "truncated");
  return fdal_test::finish("test_npy_header");
}
