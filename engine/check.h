#pragma once
// Errors of the engine are exceptions whose message says where and what.
#include <cstddef>
#include <sstream>
#include <stdexcept>
#include <string>

namespace rf {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A device allocation of `bytes` failed. A type of its own so that code which knows what the
// memory was for (the trainer knows the batch size) can say what to change.
struct OutOfMemory : Error {
  OutOfMemory(std::size_t asked, const std::string& what) : Error(what), bytes(asked) {}
  std::size_t bytes;
};

}  // namespace rf

// RF_CHECK(cond, a << b ...): throws rf::Error("file:line: a b ...") when cond is false.
#define RF_CHECK(cond, msg)                                                         \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::ostringstream rf_os_;                                                    \
      rf_os_ << __FILE__ << ":" << __LINE__ << ": " << msg;                         \
      throw ::rf::Error(rf_os_.str());                                              \
    }                                                                               \
  } while (0)
