#pragma once
// --gpus: a grid's shards side by side on one machine, one child refine_app per GPU. The parent
// writes each shard's directory RUN/shard-K-of-N with its config.json (the run's record plus the
// shard), and the child continues it with --resume, CUDA_VISIBLE_DEVICES naming its GPU and its
// output appended to RUN/shard-K-of-N/output.log. A --resume of the parent resumes every shard.
#include <atomic>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "engine/json.h"

namespace rf::app {

struct ChildProcess {
  std::string name;                                        // for messages: "shard 1/4 (GPU 1)"
  std::vector<std::string> args;                           // after the executable
  std::vector<std::pair<std::string, std::string>> env;    // set (replaced) in the child's environment
  std::filesystem::path log;                               // stdout and stderr, appended
};

// Starts every child at once (`exe`, in a process group of its own, sent SIGTERM should this
// process die) and waits for all of them. When *stop turns true, SIGINT is passed on to the
// children still running, once. Returns each exit code; 1000 + the signal for one killed by it.
std::vector<int> run_children(const std::filesystem::path& exe, const std::vector<ChildProcess>& children,
                              const std::atomic<bool>* stop);

// Runs the shards of `run` on `gpus`, one child of `exe` each, given `extra_args` after
// --resume DIR. A run recorded with the default thread count gives each child
// `threads_per_child` (the machine's share: N OpenMP pools of every core would fight).
// Returns the shard directories once every child succeeded; throws Interrupted when stopped,
// rf::Error listing each failed shard with its exit code and the end of its log.
std::vector<std::filesystem::path> run_shards_on_gpus(const std::filesystem::path& exe, const std::filesystem::path& run,
                                                      const Json& record, const std::vector<std::string>& gpus,
                                                      int threads_per_child, const std::vector<std::string>& extra_args,
                                                      const std::atomic<bool>* stop);

}  // namespace rf::app
