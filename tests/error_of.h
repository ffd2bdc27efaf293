#pragma once
// The message of what `fn` throws, or "" when it returns: for tests that check a whole error text.
#include <exception>
#include <functional>
#include <string>

namespace rf::test {

inline std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace rf::test
