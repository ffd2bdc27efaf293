#include "apps/flag_values.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "apps/cli.h"

namespace rf::app {

long long parse_int(const std::string& flag, const std::string& v, long long min) {
  long long x = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc() || end != v.data() + v.size())
    throw UsageError(flag + ": '" + v + "' is not an integer");
  if (x < min) throw UsageError(flag + ": " + v + " is below the minimum " + std::to_string(min));
  return x;
}

double parse_real(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !std::isfinite(x))
    throw UsageError(flag + ": '" + v + "' is not a finite number");
  return x;
}

std::string parse_choice(const std::string& flag, const std::string& v,
                         const std::vector<std::string>& choices) {
  if (std::find(choices.begin(), choices.end(), v) == choices.end())
    throw UsageError(flag + ": '" + v + "' is not one of " + join(choices));
  return v;
}

data::ImageSize parse_image_size(const std::string& flag, const std::string& v) {
  const size_t x = v.find('x');
  if (x == std::string::npos) throw UsageError(flag + ": '" + v + "' is not HxW (e.g. 32x32)");
  constexpr long long kMax = 4096;  // a pixel count that fits the loaders' int sizes
  const long long h = parse_int(flag + " (height)", v.substr(0, x), 1);
  const long long w = parse_int(flag + " (width)", v.substr(x + 1), 1);
  if (h > kMax || w > kMax) throw UsageError(flag + ": " + v + " exceeds " + std::to_string(kMax) + " pixels a side");
  return {int(h), int(w)};
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

FlagWord split_flag_word(const std::string& word) {
  const size_t eq = word.find('=');
  if (eq == std::string::npos) return {word, "", false};
  return {word.substr(0, eq), word.substr(eq + 1), true};
}

std::string flag_value(const FlagWord& w, const std::string& arg, int argc, char** argv, int& i) {
  if (arg.empty()) {
    if (w.has_value) throw UsageError(w.name + ": takes no value");
    return "";
  }
  if (w.has_value) return w.value;
  if (i + 1 >= argc) throw UsageError(w.name + ": needs a value " + arg);
  return argv[++i];
}

}  // namespace rf::app
