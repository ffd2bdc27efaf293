#pragma once
// The command line of refine_app: flags as typed (recipe-dependent ones unset until resolved),
// and the resolved configuration that a run records in config.json and --resume reads back.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "data/image_resize.h"
#include "data/sample_order.h"
#include "engine/device.h"
#include "engine/json.h"

namespace rf::app {

// A bad flag or flag value: reported with the usage hint and exit code 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Everything that decides what a chain computes. Recorded in config.json, so a run can be
// repeated exactly and resumed.
struct ChainConfig {
  std::string dataset;                 // cifar10 | svhn | fashion-mnist | a directory
  std::string data_dir;                // --data; empty: the default search directories
  std::string recipe = "default";      // blog | default
  std::vector<std::string> models;     // one per generation (the last repeats)
  int epochs = 30;
  int batch_size = 128;
  // Images per forward pass of evaluation, testing and labeling (no gradients kept, so larger
  // batches fit and keep a GPU busier); 0: batch_size. Precise batch-norm statistics keep
  // batch_size: they are averages of training-mode batch statistics.
  int eval_batch_size = 0;
  int generations = 3;
  std::string refine = "static";       // static | dynamic
  double temperature = 1.0;
  double alpha = 1.0;                  // weight of the refined labels against the ground truth
  std::string augment = "crop";        // none | keras | crop
  int augment_copies = 0;              // > 0: static copies made once (the blog); 0: on the fly
  int seeds = 1;
  std::uint64_t seed = 0;              // the first chain's seed; chain k uses seed + k
  std::string optimizer = "sgd";       // sgd | adam | adamw
  double lr = 0.1;
  double weight_decay = 5e-4;
  std::string schedule = "cosine";     // constant | step | cosine | onecycle | plateau
  double warmup_epochs = 1;
  bool early_stopping = false;
  int early_stopping_patience = 20;
  double val_fraction = 0.1;
  std::string val_split = "random";    // random | tail
  long long train_limit = 0;           // 0: all
  long long test_limit = 0;
  // The order an image-folder tree's files are put in at load (data/sample_order.h), which
  // decides what a tail split and --train-limit take; nullopt: the files' class-sorted order.
  std::optional<std::uint64_t> sample_order_seed = data::kDefaultSampleOrderSeed;
  std::optional<data::ImageSize> image_size;  // --image-size: resize on load; nullopt: as they are
  int figure_images = 12;              // training images in the Figure-4 grid
  // Batches for precise batch-norm statistics; 0: off. Unless --precise-bn gives it,
  // parse_command_line sets the batches that hold kPreciseBnImages images.
  int precise_bn = 0;
  bool deterministic = false;          // GPU: bitwise-repeatable runs (Backend::set_deterministic)
  // Both resolved from Options' flags once the device is known (resolve_device_flags).
  bool cuda_graphs = false;            // GPU: steps replayed as recorded CUDA graphs (train/recorded_step.h)
  bool data_on_device = false;         // training batches made on the device (train/device_dataset.h)
  // GPU: each convolution's weight gradient on a second CUDA stream, alongside the backward pass's
  // data gradients (Backend::set_concurrency); from --concurrent-backward, checked against the
  // device by resolve_device_flags. Off in runs recorded before it existed.
  bool concurrent_backward = false;
  std::string precision = "tf32";      // fp32 | tf32 (Backend::set_allow_tf32) | bf16 (and Model::set_activation_dtype)
  // --teacher: generation 0, a trained model file that R1 learns from (kept in the run
  // directory as teacher.safetensors, see apps/teacher.h); empty: R1 learns the ground truth.
  std::string teacher;                 // the file as given
  std::string teacher_md5;             // of its bytes, checked against the kept copy on --resume
  // --control: every generation trained on refined labels gets a twin trained on the ground
  // truth with its seed, architecture and recipe.
  bool control = false;

  const std::string& model_for(int generation) const;  // 1-based generation
  // The first generation that learns from a model: R1 with a teacher, else R2.
  int first_refined() const { return teacher.empty() ? 2 : 1; }
  // Models trained per chain: the generations and their controls.
  int trained_per_chain() const { return generations + (control ? generations - first_refined() + 1 : 0); }
  Json to_json() const;
  static ChainConfig from_json(const Json& j);
};

// Precise batch-norm statistics by default come from this many training images, whatever the
// batch size: their quality depends on the images averaged, and statistics of 2,000-4,000 images
// evaluated as those of the whole training split (measured, README), at a fraction of the cost.
inline constexpr int kPreciseBnImages = 4000;
int default_precise_bn(int batch_size);  // batches of batch_size holding kPreciseBnImages

// The Table-1 grid: datasets x {augmentation off, on} x generations x seeds.
struct GridConfig {
  std::vector<std::string> datasets;
};

// --shard K/N: this process runs the grid cells numbered K mod N (apps/grid.h).
struct Shard {
  int index = 0;  // K
  int count = 1;  // N
};

struct Options {
  ChainConfig chain;
  std::optional<GridConfig> table1;
  std::optional<Shard> shard;
  std::vector<std::string> gpus;  // --gpus: one child process per entry (CUDA_VISIBLE_DEVICES)
  std::string device;        // cpu | cuda; empty: CUDA when usable
  int threads = 0;           // 0: OpenMP's default
  std::string out = "runs";
  std::string resume;        // a run directory
  std::string cache_dir;     // decoded-image cache and downloads
  bool download = false;
  bool help = false;
  // --cuda-graphs, --data-on-device: on | off | auto (on when the chain trains on a GPU, where
  // both were measured faster; off on the CPU).
  std::string cuda_graphs = "auto";
  std::string data_on_device = "auto";
  // --concurrent-backward: on | off (default off until measured faster on a GPU; refused on the CPU).
  std::string concurrent_backward = "off";
  std::optional<int> precise_bn;  // --precise-bn; unset: default_precise_bn(batch size)
};

// Parses argv; recipe-dependent settings not given on the command line take the recipe's
// values. Throws UsageError naming the flag on anything malformed.
Options parse_command_line(int argc, char** argv);
// Sets chain.cuda_graphs, chain.data_on_device and chain.concurrent_backward from the flags for
// a chain that trains on `device`; throws UsageError for --cuda-graphs on or --concurrent-backward
// on with the CPU. A resumed run (`resumed`) keeps its recorded settings, except that CUDA graphs
// and the concurrent backward pass are turned off when it continues on the CPU (they change no
// result: a GPU run resumed where there is none goes on as a CPU run would).
void resolve_device_flags(Options& o, Device device, bool resumed = false);
std::string help_text();

}  // namespace rf::app
