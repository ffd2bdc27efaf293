#pragma once
// --teacher: a trained model file that starts the chain as generation 0. The run keeps a copy
// of it (RUN/teacher.safetensors) with its MD5 in config.json, so the run stays reproducible
// and --resume uses the very bytes the run started from, whatever happened to the original.
#include <filesystem>
#include <memory>
#include <string>

#include "engine/device.h"
#include "models/model.h"

namespace rf::app {

inline constexpr const char* kTeacherFileName = "teacher.safetensors";

// Builds the model `file` describes (its architecture from the file's metadata); errors name
// --teacher and the file.
std::unique_ptr<models::Model> load_teacher(const std::filesystem::path& file, Device device);

// Copies `source` into `run_dir` as kTeacherFileName; returns the MD5 of its bytes.
std::string keep_teacher(const std::filesystem::path& source, const std::filesystem::path& run_dir);

// The kept copy of a run being resumed, checked against the MD5 it recorded.
std::unique_ptr<models::Model> load_kept_teacher(const std::filesystem::path& run_dir, const std::string& md5,
                                                 Device device);

}  // namespace rf::app
