// What every C API entry point shares: `guarded` runs the body and turns any exception (bad_alloc
// included) into an fdal_status plus a message for the calling thread (fdal_last_error), so no
// exception crosses the API; `require` is the argument check that feeds it.
#pragma once
#include <cstddef>
#include <exception>
#include <new>
#include <stdexcept>
#include <string>

#include "fdal/fdal.h"
#include "format/format_error.h"

namespace fdal {
namespace capi {

// The calling thread's last message (one shared string on bare metal, which has no threads).
std::string& last_error();

template <typename F>
fdal_status guarded(F&& body) {
  try {
    last_error().clear();
    body();
    return FDAL_OK;
  } catch (const fdal::FormatError& e) {
    last_error() = e.what();
    return FDAL_ERR_FORMAT;
  } catch (const std::invalid_argument& e) {
    last_error() = e.what();
    return FDAL_ERR_INVALID_ARGUMENT;
  } catch (const std::bad_alloc&) {
    last_error() = "out of memory";
    return FDAL_ERR_NO_MEMORY;
  } catch (const std::exception& e) {
    last_error() = e.what();
    return FDAL_ERR_INTERNAL;
  } catch (...) {
    last_error() = "unknown internal error";
    return FDAL_ERR_INTERNAL;
  }
}

inline void require(bool ok, const char* message) {
  if (!ok) throw std::invalid_argument(message);
}

// An options struct's `size` (fdal.h): at least the struct this library knows (`known` bytes);
// past that, a newer caller's fields must be zero (their defaults).
inline void require_struct_size(const void* s, std::size_t size, std::size_t known, const char* what) {
  if (size < known) {
    throw std::invalid_argument(std::string(what) + "->size is smaller than sizeof(" + what + "): call " + what +
                                "_init");
  }
  const unsigned char* bytes = static_cast<const unsigned char*>(s);
  for (std::size_t i = known; i < size; ++i) {
    if (bytes[i] != 0) {
      throw std::invalid_argument(std::string(what) + " has fields this library does not know (a newer fdal.h): "
                                  "they must be zero");
    }
  }
}

}  // namespace capi
}  // namespace fdal
