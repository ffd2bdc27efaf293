#pragma once
// Flag values of refine_app's command lines, checked: each throws UsageError naming the flag and
// what is wrong with the value.
#include <string>
#include <vector>

#include "data/image_resize.h"

namespace rf::app {

long long parse_int(const std::string& flag, const std::string& v, long long min);
double parse_real(const std::string& flag, const std::string& v);
std::string parse_choice(const std::string& flag, const std::string& v, const std::vector<std::string>& choices);
// "HxW", e.g. 32x32.
data::ImageSize parse_image_size(const std::string& flag, const std::string& v);

std::string join(const std::vector<std::string>& v);  // comma-separated

// A command-line word that starts with "--": the flag's name, and the value after "=" if any.
struct FlagWord {
  std::string name, value;
  bool has_value = false;
};
FlagWord split_flag_word(const std::string& word);
// The value of flag word argv[i]: for a flag that takes one (`arg` non-empty, as help names it)
// the value after "=", else the next word (i advances); "" for a flag that takes none. Throws
// UsageError when a value is missing, or given to a flag that takes none.
std::string flag_value(const FlagWord& w, const std::string& arg, int argc, char** argv, int& i);

}  // namespace rf::app
