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

}  // namespace rf::app
