#pragma once
// The trainer's settings (optimizer, schedule, early stopping) for one generation of a chain.
#include <filesystem>

#include "apps/cli.h"
#include "train/trainer.h"

namespace rf::app {

train::TrainConfig train_config(const ChainConfig& c, const std::filesystem::path& log_file,
                                const std::filesystem::path& checkpoint_file);

}  // namespace rf::app
