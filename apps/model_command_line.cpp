#include "apps/model_command_line.h"

#include <algorithm>
#include <functional>
#include <sstream>

#include "apps/cli.h"
#include "apps/flag_values.h"

namespace rf::app {

namespace {

struct CommandFlag {
  std::string name;
  std::string arg;  // empty: a switch
  std::vector<std::string> commands;
  std::string help;
  std::function<void(ModelCommand&, const std::string&)> apply;
};

const std::vector<CommandFlag>& command_flags() {
  static const std::vector<CommandFlag> table = {
      {"--top-k", "K", {"predict"}, "classes shown per image (default: 3)",
       [](ModelCommand& c, const std::string& v) { c.top_k = int(parse_int("--top-k", v, 1)); }},
      {"--csv", "FILE", {"predict"}, "also write file,rank,class,probability rows to FILE (default: off)",
       [](ModelCommand& c, const std::string& v) { c.csv = v; }},
      {"--temperature", "T", {"predict"}, "probabilities are softmax(logits / T) (default: 1)",
       [](ModelCommand& c, const std::string& v) {
         c.temperature = parse_real("--temperature", v);
         if (c.temperature <= 0) throw UsageError("--temperature: must be positive");
       }},
      {"--data", "NAME|DIR", {"evaluate"}, "the dataset: cifar10, svhn, fashion-mnist (looked up as for training) or a dataset directory, e.g. an image-folder tree ROOT/{train,test}/<class>/; its classes must be the model's (required)",
       [](ModelCommand& c, const std::string& v) { c.data = v; }},
      {"--split", "test|train", {"evaluate"}, "which split to evaluate on (default: test)",
       [](ModelCommand& c, const std::string& v) { c.split = parse_choice("--split", v, {"test", "train"}); }},
      {"--limit", "N", {"evaluate"}, "N images spread evenly over the split; 0: all (default: 0)",
       [](ModelCommand& c, const std::string& v) { c.limit = parse_int("--limit", v, 0); }},
      {"--image-size", "HxW", {"evaluate"}, "an image-folder tree of mixed sizes: resize every image to HxW on load, as for training; images of one size other than the model's are resized to it anyway (default: off)",
       [](ModelCommand& c, const std::string& v) { c.image_size = parse_image_size("--image-size", v); }},
      {"--svg", "FILE", {"evaluate"}, "write the confusion matrix as an SVG picture (default: off)",
       [](ModelCommand& c, const std::string& v) { c.svg = v; }},
      {"--logits", "FILE", {"evaluate"}, "write the logits [n, classes], labels [n] and input pixels [n, H, W, C] (0..255, before normalization) as safetensors, for comparing with another framework (default: off)",
       [](ModelCommand& c, const std::string& v) { c.logits = v; }},
      {"--format", "pytorch", {"export"}, "pytorch: PyTorch's layouts and names, loaded by tools/refinery_resnet.py (required)",
       [](ModelCommand& c, const std::string& v) { c.format = parse_choice("--format", v, {"pytorch"}); }},
      {"--batch-size", "N", {"predict", "evaluate"}, "images per forward pass (default: 128)",
       [](ModelCommand& c, const std::string& v) { c.batch_size = int(parse_int("--batch-size", v, 1)); }},
      {"--device", "cpu|cuda", {"predict", "evaluate"}, "where to run (default: cuda when a GPU is usable, else cpu)",
       [](ModelCommand& c, const std::string& v) { c.device = parse_choice("--device", v, {"cpu", "cuda"}); }},
      {"--cuda-graphs", "auto|on|off", {"predict", "evaluate"}, "GPU: record the forward pass of a batch once as a CUDA graph and replay it for every batch of that size (one launch instead of hundreds; results unchanged); auto: on when running on a GPU (default: auto)",
       [](ModelCommand& c, const std::string& v) { c.cuda_graphs = parse_choice("--cuda-graphs", v, {"auto", "on", "off"}); }},
      {"--threads", "N", {"predict", "evaluate", "export"}, "CPU threads (default: all cores)",
       [](ModelCommand& c, const std::string& v) { c.threads = int(parse_int("--threads", v, 1)); }},
      {"--cache-dir", "DIR", {"evaluate"}, "decoded-image cache (default: as for training)",
       [](ModelCommand& c, const std::string& v) { c.cache_dir = v; }},
      {"--help", "", {"predict", "evaluate", "export"}, "this text", [](ModelCommand& c, const std::string&) { c.help = true; }},
  };
  return table;
}

const CommandFlag& find_command_flag(const std::string& command, const std::string& name) {
  for (const CommandFlag& f : command_flags())
    if (f.name == name) {
      if (std::find(f.commands.begin(), f.commands.end(), command) == f.commands.end())
        throw UsageError(name + " is not a flag of refine_app " + command + " (see --help)");
      return f;
    }
  throw UsageError("unknown flag " + name + " for refine_app " + command + " (see --help)");
}

}  // namespace

bool cuda_graphs_for(const ModelCommand& c, Device device) {
  const bool gpu = device == Device::CUDA;
  if (c.cuda_graphs == "on" && !gpu)
    throw UsageError("--cuda-graphs on: CUDA graphs need the GPU, and refine_app " + c.name + " runs on the CPU");
  return c.cuda_graphs == "on" || (c.cuda_graphs == "auto" && gpu);
}

bool is_model_command(const std::string& word) {
  return word == "predict" || word == "evaluate" || word == "export";
}

ModelCommand parse_model_command(int argc, char** argv) {
  ModelCommand c;
  c.name = argv[1];
  std::vector<std::string> positional;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0 || a == "--") {
      positional.push_back(a);
      continue;
    }
    const FlagWord w = split_flag_word(a);
    const CommandFlag& f = find_command_flag(c.name, w.name);
    f.apply(c, flag_value(w, f.arg, argc, argv, i));
  }
  if (c.help) return c;
  if (positional.empty()) throw UsageError("refine_app " + c.name + ": no model file given");
  c.model = positional.front();
  positional.erase(positional.begin());
  if (c.name == "predict") {
    if (positional.empty()) throw UsageError("refine_app predict: no image or folder given");
    c.paths = positional;
  } else if (c.name == "evaluate") {
    if (!positional.empty()) throw UsageError("refine_app evaluate: unexpected argument " + positional.front());
    if (c.data.empty()) throw UsageError("refine_app evaluate: --data NAME|DIR is required");
  } else {
    if (c.format.empty()) throw UsageError("refine_app export: --format pytorch is required");
    if (positional.size() != 1) throw UsageError("refine_app export: one output file expected, got " +
                                                 std::to_string(positional.size()));
    c.out = positional.front();
  }
  return c;
}

std::string model_commands_help() {
  std::ostringstream out;
  out << "Applying a trained model (MODEL: a run's seed*/gen*/model.safetensors or a checkpoint; its\n"
         "metadata holds the architecture, input size, normalization and class names):\n"
         "  refine_app predict MODEL PATH... [flags]\n"
         "      PNG/JPEG/BMP files or folders (searched recursively) -> the top-k classes and their\n"
         "      probabilities, as a table. Any size: each image is resized to the model's input with\n"
         "      an antialiased bilinear filter (a triangle kernel widened by the downscale factor, as\n"
         "      Pillow's BILINEAR; data/image_resize.h). Grayscale is replicated for an RGB model and\n"
         "      alpha dropped; a color image for a grayscale model is an error. An image that cannot\n"
         "      be read is reported by name, the others are still classified, and the exit code is 1.\n"
         "  refine_app evaluate MODEL --data NAME|DIR [flags]\n"
         "      accuracy, per-class accuracy and the confusion matrix, normalized as the model was\n"
         "      trained, images resized to the model's input where they differ.\n"
         "  refine_app export MODEL --format pytorch OUT.safetensors\n"
         "      the weights in PyTorch's layouts (conv OIHW, linear [out, in]) and names, loaded by\n"
         "      tools/refinery_resnet.py with load_state_dict(strict=True); the metadata keeps the\n"
         "      normalization and class names.\n"
         "flags:\n";
  for (const CommandFlag& f : command_flags()) {
    out << "  " << f.name;
    if (!f.arg.empty()) out << ' ' << f.arg;
    out << "  (" << join(f.commands) << ")\n      " << f.help << '\n';
  }
  return out.str();
}

}  // namespace rf::app
