#include "models/data_description.h"

#include "engine/check.h"
#include "engine/json.h"

namespace rf::models {

namespace {

constexpr const char* kHeight = "input_height";
constexpr const char* kWidth = "input_width";
constexpr const char* kChannels = "in_channels";
constexpr const char* kLayout = "input_layout";
constexpr const char* kMean = "normalization_mean";
constexpr const char* kStd = "normalization_std";
constexpr const char* kClassNames = "class_names";
constexpr const char* kLayoutText = "NHWC float32, (px / 255 - normalization_mean[c]) / normalization_std[c]";

}  // namespace

void DataDescription::validate(const std::string& where) const {
  RF_CHECK(height > 0 && width > 0 && channels > 0,
           where << ": input " << height << "x" << width << "x" << channels << " is not an image size");
  RF_CHECK(mean.size() == size_t(channels) && stddev.size() == size_t(channels),
           where << ": normalization of " << mean.size() << " means and " << stddev.size()
                 << " standard deviations for " << channels << " channels");
  for (const float s : stddev) RF_CHECK(s > 0, where << ": normalization standard deviation " << s << " is not positive");
  RF_CHECK(class_names.size() >= 2, where << ": " << class_names.size() << " class names");
}

TensorMetadata description_metadata(const DataDescription& d) {
  return {{kHeight, std::to_string(d.height)},
          {kWidth, std::to_string(d.width)},
          {kChannels, std::to_string(d.channels)},
          {kLayout, kLayoutText},
          {kMean, Json(d.mean).dump()},
          {kStd, Json(d.stddev).dump()},
          {kClassNames, Json(d.class_names).dump()}};
}

std::vector<std::string> missing_description_keys(const TensorMetadata& meta) {
  std::vector<std::string> missing;
  for (const char* key : {kHeight, kWidth, kChannels, kLayout, kMean, kStd, kClassNames})
    if (!meta.count(key)) missing.emplace_back(key);
  return missing;
}

DataDescription parse_description(const TensorMetadata& meta, const std::string& where) {
  const std::vector<std::string> missing = missing_description_keys(meta);
  RF_CHECK(missing.empty(), where << ": metadata '" << missing.front() << "' missing");
  RF_CHECK(meta.at(kLayout) == kLayoutText,
           where << ": input layout '" << meta.at(kLayout) << "' is not the one this program writes ('" << kLayoutText << "')");
  auto value = [&](const char* key) { return parse_json(meta.at(key), where + ": metadata '" + key + "'"); };
  DataDescription d;
  read_json(where, [&] {
    d.height = json_integer<int>(value(kHeight));
    d.width = json_integer<int>(value(kWidth));
    d.channels = json_integer<int>(value(kChannels));
    d.mean = value(kMean).get<std::vector<float>>();
    d.stddev = value(kStd).get<std::vector<float>>();
    d.class_names = value(kClassNames).get<std::vector<std::string>>();
  });
  d.validate(where);
  return d;
}

}  // namespace rf::models
