// FormatError: a .fdal file (or buffer) breaks a rule of docs/format.md. The message names the
// field and, for layer fields, the layer: "layer 3 (conv2d): weight_offset 1234 is not 64-byte aligned".
#pragma once
#include <stdexcept>
#include <string>

namespace fdal {

class FormatError : public std::runtime_error {
 public:
  explicit FormatError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace fdal
