#pragma once
// The command lines of refine_app's subcommands that apply a trained model file:
//   refine_app predict  MODEL PATH... [flags]   images -> top-k classes
//   refine_app evaluate MODEL --data D [flags]  accuracy, per-class accuracy, confusion matrix
//   refine_app export   MODEL --format pytorch OUT.safetensors
#include <optional>
#include <string>
#include <vector>

#include "data/image_resize.h"
#include "engine/device.h"

namespace rf::app {

struct ModelCommand {
  std::string name;                 // predict | evaluate | export
  std::string model;                // the model file (a run's model.safetensors or a checkpoint)
  std::vector<std::string> paths;   // predict: images or folders
  int top_k = 3;
  std::string csv;                  // predict: also write the predictions here
  double temperature = 1.0;
  int batch_size = 128;
  std::string data;                 // evaluate: dataset name or directory
  std::string split = "test";       // evaluate: test | train
  long long limit = 0;              // evaluate: N images spread over the split; 0: all
  std::optional<data::ImageSize> image_size;  // evaluate: resize on load (mixed-size folders)
  std::string svg;                  // evaluate: confusion matrix as SVG
  std::string logits;               // evaluate: logits, labels and pixels as safetensors
  std::string format;               // export: pytorch
  std::string out;                  // export: the output file
  std::string device;               // cpu | cuda; empty: CUDA when usable
  std::string cuda_graphs = "auto"; // predict, evaluate: auto | on | off (cuda_graphs_for)
  int threads = 0;
  std::string cache_dir;
  bool help = false;
};

bool is_model_command(const std::string& word);
// argv[1] is the subcommand. Throws UsageError naming the flag or argument that is wrong.
ModelCommand parse_model_command(int argc, char** argv);
std::string model_commands_help();
// Whether the command's forward passes replay recorded CUDA graphs on `device`: --cuda-graphs
// on, or auto on a GPU. Throws UsageError for on with the CPU.
bool cuda_graphs_for(const ModelCommand& c, Device device);

}  // namespace rf::app
