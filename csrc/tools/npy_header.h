// Parser for the header of a .npy file (format versions 1.0 and 2.0): the magic, the version,
// the header length and the Python-literal dict {'descr': ..., 'fortran_order': ..., 'shape': (...)}.
// No allocation; errors are written into a caller-provided message buffer.
#pragma once
#include <cstddef>
#include <cstdint>

namespace fdal_tools {

constexpr int kNpyMaxDims = 8;

struct NpyHeader {
  char descr[16] = {0};         // e.g. "|u1", "<i4"
  bool fortran_order = false;
  int ndim = 0;
  std::int64_t shape[kNpyMaxDims] = {0};
  std::int64_t data_offset = 0;  // bytes from the start of the file to the first element
};

// Bytes of the fixed preamble needed to learn the header length: magic (6) + version (2) + u32.
constexpr std::size_t kNpyPreambleBytes = 12;

// True when `bytes` (at least 6) start with "\x93NUMPY".
bool is_npy(const unsigned char* bytes, std::size_t size);

// From the first kNpyPreambleBytes of the file: the total header size (preamble + dict text),
// i.e. the data offset. False (and a message) for a bad magic or an unsupported version.
bool npy_header_size(const unsigned char* preamble, std::size_t size, std::int64_t* header_size,
                     char* error, std::size_t error_size);

// Parses the whole header (`size` = the value npy_header_size returned).
bool parse_npy_header(const unsigned char* header, std::size_t size, NpyHeader* out, char* error,
                      std::size_t error_size);

}  // namespace fdal_tools
