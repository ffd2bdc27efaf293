#include "apps/teacher.h"

#include "apps/cli.h"
#include "apps/md5.h"
#include "data/bytes.h"
#include "engine/atomic_file.h"
#include "engine/check.h"
#include "models/model_file.h"

namespace rf::app {

namespace fs = std::filesystem;

std::unique_ptr<models::Model> load_teacher(const fs::path& file, Device device) {
  if (!fs::is_regular_file(file)) throw UsageError("--teacher " + file.string() + ": no such file");
  try {
    return models::load_model(file, device);
  } catch (const std::exception& e) {
    throw Error("--teacher " + file.string() + ": not a model file refine_app can load: " + e.what());
  }
}

std::string keep_teacher(const fs::path& source, const fs::path& run_dir) {
  const data::Bytes bytes = data::read_file(source);
  write_file_atomic(run_dir / kTeacherFileName, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  return md5_hex(bytes.data(), bytes.size());
}

std::unique_ptr<models::Model> load_kept_teacher(const fs::path& run_dir, const std::string& md5, Device device) {
  const fs::path kept = run_dir / kTeacherFileName;
  RF_CHECK(fs::is_regular_file(kept), kept.string() << ": the run's copy of its --teacher is missing");
  const std::string actual = md5_file(kept);
  RF_CHECK(actual == md5, kept.string() << ": MD5 " << actual << ", but the run recorded " << md5
                                        << " in config.json: the teacher file was changed");
  return load_teacher(kept, device);
}

}  // namespace rf::app
