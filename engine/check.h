#pragma once
// Errors of the engine are exceptions whose message says where and what.
#include <sstream>
#include <stdexcept>
#include <string>

namespace rf {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
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
