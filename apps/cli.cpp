#include "apps/cli.h"

#include <algorithm>
#include <functional>
#include <sstream>

#include "apps/flag_values.h"
#include "apps/model_command_line.h"
#include "engine/check.h"
#include "models/factory.h"

namespace rf::app {

namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(s);
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

// The recipe's values for every recipe-dependent setting.
void apply_recipe(ChainConfig& c) {
  if (c.recipe == "blog") {
    // The blog: Keras ResNet50, Adam 1e-3, batch 250, ReduceLROnPlateau on val accuracy
    // (factor 0.1, patience 10, min_lr 1e-5), early stopping on val accuracy, the last 15% of
    // the training file for validation, two static Keras-augmented copies.
    c.models = {"resnet50"};
    c.epochs = 100;
    c.batch_size = 250;
    c.optimizer = "adam";
    c.lr = 1e-3;
    c.weight_decay = 0;
    c.schedule = "plateau";
    c.early_stopping = true;
    c.val_fraction = 0.15;
    c.val_split = "tail";
    c.augment = "keras";
    c.augment_copies = 2;
  } else {
    // Ours: a CIFAR ResNet, SGD with Nesterov momentum, cosine decay after a warmup epoch,
    // pad-4 crop + flip drawn afresh every epoch, a random 10% validation split.
    c.models = {"resnet20"};
    c.epochs = 30;
    c.batch_size = 128;
    c.optimizer = "sgd";
    c.lr = 0.1;
    c.weight_decay = 5e-4;
    c.schedule = "cosine";
    c.early_stopping = false;
    c.val_fraction = 0.1;
    c.val_split = "random";
    c.augment = "crop";
    c.augment_copies = 0;
  }
}

struct Flag {
  std::string name;
  std::string arg;      // empty: a switch
  std::string help;     // ends with the default
  std::function<void(Options&, const std::string&)> apply;
};

const std::vector<Flag>& flags() {
  static const std::vector<Flag> table = {
      {"--data", "DIR", "where the dataset is: a folder holding cifar10/, cifar-10-batches-bin/, svhn/ or fashion-mnist/, or the dataset folder itself (default: $RF_DATA_DIR, ../shared/data, /usr/share/datasets, the download cache)",
       [](Options& o, const std::string& v) { o.chain.data_dir = v; }},
      {"--recipe", "blog|default", "training recipe; sets every setting marked (recipe) (default: default)", nullptr},
      {"--model", "NAME[,NAME...]", "architecture per generation, the last repeating, e.g. resnet50,resnet20 (recipe: resnet20; blog resnet50). Known: " + join(models::model_names()),
       [](Options& o, const std::string& v) {
         o.chain.models = split_list(v);
         if (o.chain.models.empty()) throw UsageError("--model: no model named");
         const auto known = models::model_names();
         for (const auto& m : o.chain.models) parse_choice("--model", m, known);
       }},
      {"--epochs", "N", "maximum epochs per generation (recipe: 30; blog 100 with early stopping)",
       [](Options& o, const std::string& v) { o.chain.epochs = int(parse_int("--epochs", v, 1)); }},
      {"--batch-size", "N", "mini-batch size (recipe: 128; blog 250)",
       [](Options& o, const std::string& v) { o.chain.batch_size = int(parse_int("--batch-size", v, 1)); }},
      {"--eval-batch-size", "N", "images per forward pass of validation, testing and labeling (no gradients kept: larger batches fit, and keep a GPU busier); 0: --batch-size (default: 0)",
       [](Options& o, const std::string& v) { o.chain.eval_batch_size = int(parse_int("--eval-batch-size", v, 0)); }},
      {"--generations", "N", "models trained in the chain: R1 on ground truth (or on the --teacher's labels), R2.. on the previous generation's (default: 3)",
       [](Options& o, const std::string& v) { o.chain.generations = int(parse_int("--generations", v, 1)); }},
      {"--refine", "static|dynamic", "static: labels computed once per generation on the training images (the blog); dynamic: the frozen previous model labels every augmented batch (the paper's code) (default: static)",
       [](Options& o, const std::string& v) { o.chain.refine = parse_choice("--refine", v, {"static", "dynamic"}); }},
      {"--temperature", "T", "softmax temperature of the labeler (default: 1)",
       [](Options& o, const std::string& v) {
         o.chain.temperature = parse_real("--temperature", v);
         if (o.chain.temperature <= 0) throw UsageError("--temperature: must be positive");
       }},
      {"--alpha", "A", "targets = A * refined + (1 - A) * ground truth; 1 = refined only (default: 1)",
       [](Options& o, const std::string& v) {
         o.chain.alpha = parse_real("--alpha", v);
         if (o.chain.alpha < 0 || o.chain.alpha > 1) throw UsageError("--alpha: must be in [0, 1]");
       }},
      {"--teacher", "MODEL.safetensors", "start the chain from a trained model (its architecture from the file; e.g. a model.safetensors of an earlier run): it is generation 0 and R1 learns from it, static or dynamic, with --temperature and --alpha; copied into the run directory (default: none, R1 learns the ground truth)",
       [](Options& o, const std::string& v) {
         if (v.empty()) throw UsageError("--teacher: no file named");
         o.chain.teacher = v;
       }},
      {"--control", "", "for every generation trained on refined labels, also train the same architecture on the ground truth with the same seed, epochs and schedule; the report gives refined - control test accuracy per generation with a paired 95% interval over seeds (default: off)",
       [](Options& o, const std::string&) { o.chain.control = true; }},
      {"--augment", "none|keras|crop", "keras: 10 deg rotation, 10% zoom and shifts, flip (not for svhn); crop: pad-4 random crop + flip (recipe: crop; blog keras)",
       [](Options& o, const std::string& v) { o.chain.augment = parse_choice("--augment", v, {"none", "keras", "crop"}); }},
      {"--augment-copies", "K", "K > 0: K augmented copies appended once (static, the blog); 0: augment on the fly every epoch (recipe: 0; blog 2)",
       [](Options& o, const std::string& v) { o.chain.augment_copies = int(parse_int("--augment-copies", v, 0)); }},
      {"--seeds", "K", "independent chains; results are mean +- sample std (default: 1)",
       [](Options& o, const std::string& v) { o.chain.seeds = int(parse_int("--seeds", v, 1)); }},
      {"--seed", "S", "seed of the first chain; chain k uses S + k (default: 0)",
       [](Options& o, const std::string& v) { o.chain.seed = std::uint64_t(parse_int("--seed", v, 0)); }},
      {"--optimizer", "sgd|adam|adamw", "optimizer (recipe: sgd, Nesterov momentum 0.9; blog adam)",
       [](Options& o, const std::string& v) { o.chain.optimizer = parse_choice("--optimizer", v, {"sgd", "adam", "adamw"}); }},
      {"--lr", "LR", "base learning rate (recipe: 0.1; blog 0.001)",
       [](Options& o, const std::string& v) {
         o.chain.lr = parse_real("--lr", v);
         if (o.chain.lr <= 0) throw UsageError("--lr: must be positive");
       }},
      {"--weight-decay", "WD", "weight decay (recipe: 5e-4; blog 0)",
       [](Options& o, const std::string& v) {
         o.chain.weight_decay = parse_real("--weight-decay", v);
         if (o.chain.weight_decay < 0) throw UsageError("--weight-decay: must be >= 0");
       }},
      {"--schedule", "constant|step|cosine|onecycle|plateau", "learning-rate schedule (recipe: cosine with 1 warmup epoch; blog plateau: val accuracy, factor 0.1, patience 10, min_lr 1e-5)",
       [](Options& o, const std::string& v) { o.chain.schedule = parse_choice("--schedule", v, {"constant", "step", "cosine", "onecycle", "plateau"}); }},
      {"--early-stopping", "N", "stop a generation after N epochs without a better val accuracy; 0: off (recipe: off; blog 20)",
       [](Options& o, const std::string& v) {
         const int n = int(parse_int("--early-stopping", v, 0));
         o.chain.early_stopping = n > 0;
         if (n > 0) o.chain.early_stopping_patience = n;
       }},
      {"--val-fraction", "F", "fraction of the training split held out for validation, hard labels; 0: none, all of it trains (not with --schedule plateau or --early-stopping) (recipe: 0.1 random; blog 0.15, the tail)",
       [](Options& o, const std::string& v) {
         o.chain.val_fraction = parse_real("--val-fraction", v);
         if (o.chain.val_fraction < 0 || o.chain.val_fraction >= 1) throw UsageError("--val-fraction: must be in [0, 1)");
       }},
      {"--precise-bn", "N", "before every validation, the test evaluation and labeling, recompute each batch-norm layer's statistics over N training batches with the weights frozen (PreciseBN); 0: use the running averages (default: the batches that hold " + std::to_string(kPreciseBnImages) + " images: " + std::to_string(default_precise_bn(128)) + " at batch 128, " + std::to_string(default_precise_bn(250)) + " at 250)",
       [](Options& o, const std::string& v) { o.precise_bn = int(parse_int("--precise-bn", v, 0)); }},
      {"--train-limit", "N", "use N training images, spread evenly over the split (0: all) (default: 0)",
       [](Options& o, const std::string& v) { o.chain.train_limit = parse_int("--train-limit", v, 0); }},
      {"--test-limit", "N", "use N test images, spread evenly over the split (0: all) (default: 0)",
       [](Options& o, const std::string& v) { o.chain.test_limit = parse_int("--test-limit", v, 0); }},
      {"--image-size", "HxW", "image-folder datasets of mixed sizes: resize every image to HxW on load (antialiased bilinear: a triangle filter widened by the downscale factor, as Pillow's BILINEAR; data/image_resize.h); binary datasets are resized likewise (default: off, every image must have the first one's size)",
       [](Options& o, const std::string& v) { o.chain.image_size = parse_image_size("--image-size", v); }},
      {"--figure-images", "N", "training images in the report's Figure-4 grid (default: 12)",
       [](Options& o, const std::string& v) { o.chain.figure_images = int(parse_int("--figure-images", v, 0)); }},
      {"--device", "cpu|cuda", "where to train (default: cuda when a GPU is usable, else cpu)",
       [](Options& o, const std::string& v) { o.device = parse_choice("--device", v, {"cpu", "cuda"}); }},
      {"--threads", "N", "CPU threads for OpenMP and OpenBLAS (default: OpenMP's, all cores)",
       [](Options& o, const std::string& v) { o.threads = int(parse_int("--threads", v, 1)); }},
      {"--deterministic", "", "GPU: only deterministic cuDNN convolution algorithms, picked by cuDNN's heuristic instead of timing, so a run and its --resume repeat bitwise (may be slower); CPU runs always repeat for a given --threads (default: off)",
       [](Options& o, const std::string&) { o.chain.deterministic = true; }},
      {"--precision", "fp32|tf32|bf16", "fp32: everything in FP32; tf32 (GPU): convolutions and GEMMs with TF32 tensor cores (10-bit mantissa products, FP32 sums); bf16: activations and their gradients stored as bf16 from the input to the pooled features (convolutions on bf16 tensor cores, FP32 sums), every other GEMM TF32; parameters, batch-norm statistics, softmax, loss and optimizer are FP32 in every mode. The CPU computes tf32 as fp32, and bf16 as FP32 arithmetic with every stored activation rounded to bf16 (the GPU's reference; slower than fp32) (default: tf32)",
       [](Options& o, const std::string& v) { o.chain.precision = parse_choice("--precision", v, {"fp32", "tf32", "bf16"}); }},
      {"--data-on-device", "auto|on|off", "keep the training images (uint8) and targets on the training device and make each batch there from its indices (augmentation and normalization as kernels) instead of on host threads; the same images as the host loader (bitwise on the CPU; on a GPU up to float rounding of a rotation's sine and cosine); auto: on when training on a GPU (default: auto)",
       [](Options& o, const std::string& v) { o.data_on_device = parse_choice("--data-on-device", v, {"auto", "on", "off"}); }},
      {"--cuda-graphs", "auto|on|off", "GPU: record each training step (with the dynamic refinery's labeling), each batch of precise batch-norm statistics and each batch of evaluation and labeling once as a CUDA graph and replay it (one launch instead of hundreds; per-epoch results unchanged); auto: on when training on a GPU (default: auto)",
       [](Options& o, const std::string& v) { o.cuda_graphs = parse_choice("--cuda-graphs", v, {"auto", "on", "off"}); }},
      {"--concurrent-backward", "on|off", "GPU: each convolution's weight gradient runs on a second CUDA stream alongside the backward pass's data gradients (the same arithmetic: bitwise the same results under --deterministic); refused on the CPU, where it gains nothing (default: off until measured faster)",
       [](Options& o, const std::string& v) { o.concurrent_backward = parse_choice("--concurrent-backward", v, {"on", "off"}); }},
      {"--out", "DIR", "parent of the run directory <timestamp>-<dataset>-<refine> (default: runs)",
       [](Options& o, const std::string& v) { o.out = v; }},
      {"--resume", "RUN_DIR", "continue an interrupted run from its last completed epoch, with its recorded configuration (default: off)",
       [](Options& o, const std::string& v) { o.resume = v; }},
      {"--cache-dir", "DIR", "decoded-image cache and downloads (default: $XDG_CACHE_HOME/refinery or ~/.cache/refinery)",
       [](Options& o, const std::string& v) { o.cache_dir = v; }},
      {"--download", "", "fetch the official CIFAR-10 / SVHN files into the cache when missing, verify their MD5, unpack (base URL overridable by $RF_DOWNLOAD_BASE_URL) (default: off)",
       [](Options& o, const std::string&) { o.download = true; }},
      {"--table1", "", "run the blog's Table 1 grid: datasets x augmentation {off, on} x generations x seeds (default: off)",
       [](Options& o, const std::string&) {
         if (!o.table1) o.table1 = GridConfig{{"cifar10", "svhn"}};
       }},
      {"--table1-datasets", "LIST", "datasets of the --table1 grid (default: cifar10,svhn)",
       [](Options& o, const std::string& v) {
         o.table1 = GridConfig{split_list(v)};
         if (o.table1->datasets.empty()) throw UsageError("--table1-datasets: no dataset named");
       }},
      {"--shard", "K/N", "run only the grid cells (dataset x augmentation x seed chains) numbered K mod N, in a run directory of its own; refine_app merge combines the N shards (default: every cell)",
       [](Options& o, const std::string& v) {
         const size_t slash = v.find('/');
         if (slash == std::string::npos) throw UsageError("--shard: '" + v + "' is not K/N (e.g. 0/4)");
         const Shard s{int(parse_int("--shard K", v.substr(0, slash), 0)), int(parse_int("--shard N", v.substr(slash + 1), 1))};
         if (s.index >= s.count) throw UsageError("--shard " + v + ": K must be below N (shards 0/N to N-1/N)");
         o.shard = s;
       }},
      {"--gpus", "LIST", "run the grid cells on these GPUs side by side, e.g. 0,1,2,3: one refine_app process per GPU (CUDA_VISIBLE_DEVICES), each a shard in this run directory, merged at the end (default: one process)",
       [](Options& o, const std::string& v) {
         o.gpus = split_list(v);
         if (o.gpus.empty()) throw UsageError("--gpus: no GPU named");
       }},
      {"--help", "", "this text", [](Options& o, const std::string&) { o.help = true; }},
  };
  return table;
}

const Flag& find_flag(const std::string& name) {
  for (const Flag& f : flags())
    if (f.name == name) return f;
  throw UsageError("unknown flag " + name + " (see --help)");
}

}  // namespace

int default_precise_bn(int batch_size) { return (kPreciseBnImages + batch_size - 1) / batch_size; }

const std::string& ChainConfig::model_for(int generation) const {
  return models[size_t(std::min<int>(generation, int(models.size())) - 1)];
}

Json ChainConfig::to_json() const {
  return Json::object({{"dataset", dataset},
                       {"data_dir", data_dir},
                       {"recipe", recipe},
                       {"models", models},
                       {"epochs", epochs},
                       {"batch_size", batch_size},
                       {"eval_batch_size", eval_batch_size},
                       {"generations", generations},
                       {"refine", refine},
                       {"temperature", temperature},
                       {"alpha", alpha},
                       {"augment", augment},
                       {"augment_copies", augment_copies},
                       {"seeds", seeds},
                       {"seed", seed},
                       {"optimizer", optimizer},
                       {"lr", lr},
                       {"weight_decay", weight_decay},
                       {"schedule", schedule},
                       {"warmup_epochs", warmup_epochs},
                       {"early_stopping", early_stopping},
                       {"early_stopping_patience", early_stopping_patience},
                       {"val_fraction", val_fraction},
                       {"val_split", val_split},
                       {"train_limit", int64_t(train_limit)},
                       {"test_limit", int64_t(test_limit)},
                       {"sample_order_seed", sample_order_seed ? Json(*sample_order_seed) : Json()},
                       {"image_size", image_size ? Json(data::size_text(*image_size)) : Json()},
                       {"figure_images", figure_images},
                       {"precise_bn", precise_bn},
                       {"deterministic", deterministic},
                       {"cuda_graphs", cuda_graphs},
                       {"data_on_device", data_on_device},
                       {"concurrent_backward", concurrent_backward},
                       {"precision", precision},
                       {"teacher", teacher},
                       {"teacher_md5", teacher_md5},
                       {"control", control}});
}

ChainConfig ChainConfig::from_json(const Json& j) {
  ChainConfig c;
  c.dataset = j.at("dataset").get<std::string>();
  c.data_dir = j.at("data_dir").get<std::string>();
  c.recipe = j.at("recipe").get<std::string>();
  c.models.clear();
  c.models = j.at("models").get<std::vector<std::string>>();
  c.epochs = json_integer<int>(j.at("epochs"));
  c.batch_size = json_integer<int>(j.at("batch_size"));
  // Absent in runs recorded before --eval-batch-size existed: they evaluated in training batches.
  c.eval_batch_size = j.contains("eval_batch_size") ? json_integer<int>(j.at("eval_batch_size")) : 0;
  c.generations = json_integer<int>(j.at("generations"));
  c.refine = j.at("refine").get<std::string>();
  c.temperature = j.at("temperature").get<double>();
  c.alpha = j.at("alpha").get<double>();
  c.augment = j.at("augment").get<std::string>();
  c.augment_copies = json_integer<int>(j.at("augment_copies"));
  c.seeds = json_integer<int>(j.at("seeds"));
  c.seed = json_integer<std::uint64_t>(j.at("seed"));
  c.optimizer = j.at("optimizer").get<std::string>();
  c.lr = j.at("lr").get<double>();
  c.weight_decay = j.at("weight_decay").get<double>();
  c.schedule = j.at("schedule").get<std::string>();
  c.warmup_epochs = j.at("warmup_epochs").get<double>();
  c.early_stopping = j.at("early_stopping").get<bool>();
  c.early_stopping_patience = json_integer<int>(j.at("early_stopping_patience"));
  c.val_fraction = j.at("val_fraction").get<double>();
  c.val_split = j.at("val_split").get<std::string>();
  c.train_limit = json_integer(j.at("train_limit"));
  c.test_limit = json_integer(j.at("test_limit"));
  // null, or absent (runs recorded before the order existed): the files' class-sorted order,
  // which is what those runs trained on.
  c.sample_order_seed.reset();
  if (j.contains("sample_order_seed") && !j.at("sample_order_seed").is_null())
    c.sample_order_seed = json_integer<std::uint64_t>(j.at("sample_order_seed"));
  // null, or absent (runs recorded before --image-size existed): images at their own size.
  c.image_size.reset();
  if (j.contains("image_size") && !j.at("image_size").is_null())
    c.image_size = parse_image_size("image_size", j.at("image_size").get<std::string>());
  c.figure_images = json_integer<int>(j.at("figure_images"));
  // Runs recorded before precise statistics existed used the running averages.
  c.precise_bn = j.contains("precise_bn") ? json_integer<int>(j.at("precise_bn")) : 0;
  c.deterministic = j.contains("deterministic") && j.at("deterministic").get<bool>();
  c.cuda_graphs = j.contains("cuda_graphs") && j.at("cuda_graphs").get<bool>();
  c.data_on_device = j.contains("data_on_device") && j.at("data_on_device").get<bool>();
  // Absent in runs recorded before --concurrent-backward existed: their backward pass ran in order.
  c.concurrent_backward = j.contains("concurrent_backward") && j.at("concurrent_backward").get<bool>();
  // Runs recorded before --precision existed ran with TF32 allowed.
  c.precision = j.contains("precision") ? j.at("precision").get<std::string>() : "tf32";
  RF_CHECK(c.precision == "fp32" || c.precision == "tf32" || c.precision == "bf16",
           "precision '" << c.precision << "' is not fp32, tf32 or bf16");
  // Absent in runs recorded before --teacher and --control existed: neither was used.
  c.teacher = j.contains("teacher") ? j.at("teacher").get<std::string>() : "";
  c.teacher_md5 = j.contains("teacher_md5") ? j.at("teacher_md5").get<std::string>() : "";
  c.control = j.contains("control") && j.at("control").get<bool>();
  return c;
}

Options parse_command_line(int argc, char** argv) {
  Options o;
  // Flags as (name, value) pairs; --recipe is applied first so explicit flags override it.
  std::vector<std::pair<std::string, std::string>> given;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0 || a == "--") {
      positional.push_back(a);
      continue;
    }
    const FlagWord w = split_flag_word(a);
    given.emplace_back(w.name, flag_value(w, find_flag(w.name).arg, argc, argv, i));
  }
  for (const auto& [name, value] : given)
    if (name == "--recipe") o.chain.recipe = parse_choice("--recipe", value, {"blog", "default"});
  apply_recipe(o.chain);
  for (const auto& [name, value] : given)
    if (name != "--recipe") find_flag(name).apply(o, value);
  o.chain.precise_bn = o.precise_bn.value_or(default_precise_bn(o.chain.batch_size));
  if (o.help) return o;

  if (positional.size() > 1) throw UsageError("one dataset expected, got " + join(positional));
  if (!positional.empty()) o.chain.dataset = positional.front();
  if (o.resume.empty() && !o.table1 && o.chain.dataset.empty())
    throw UsageError("no dataset given: cifar10, svhn, fashion-mnist or an image-folder path (see --help)");
  if (o.table1 && !o.chain.dataset.empty())
    throw UsageError("--table1 takes its datasets from --table1-datasets, not a positional dataset");
  if (o.shard && !o.gpus.empty())
    throw UsageError("--shard and --gpus do not combine: --gpus makes its own shards, one per GPU");
  if (o.chain.control && o.chain.trained_per_chain() == o.chain.generations)
    throw UsageError("--control: with --generations " + std::to_string(o.chain.generations) +
                     " and no --teacher no generation learns from a model, so there is nothing to control");
  if (o.chain.val_fraction <= 0) {
    // Nothing held out: nothing to take the decisions made on validation accuracy.
    const bool plateau = o.chain.schedule == "plateau", stopping = o.chain.early_stopping;
    const std::string both = plateau && stopping ? " and " : "";
    if (plateau || stopping)
      throw UsageError("--val-fraction 0 leaves no validation images, but " +
                       std::string(plateau ? "--schedule plateau" : "") + both +
                       (stopping ? "--early-stopping" : "") + " decide" + (both.empty() ? "s" : "") +
                       " on validation accuracy (" + o.chain.recipe + " recipe): add " +
                       (plateau ? "--schedule cosine" : "") + both + (stopping ? "--early-stopping 0" : "") +
                       ", or hold out a validation fraction");
  }
  return o;
}

void resolve_device_flags(Options& o, Device device, bool resumed) {
  const bool gpu = device == Device::CUDA;
  if (resumed) {
    o.chain.cuda_graphs = o.chain.cuda_graphs && gpu;
    o.chain.concurrent_backward = o.chain.concurrent_backward && gpu;
    return;
  }
  if (o.cuda_graphs == "on" && !gpu)
    throw UsageError("--cuda-graphs on: CUDA graphs need the GPU, and this run trains on the CPU");
  if (o.concurrent_backward == "on" && !gpu)
    throw UsageError("--concurrent-backward on: a second CUDA stream only helps a GPU, and this run trains on the CPU");
  o.chain.concurrent_backward = o.concurrent_backward == "on";
  o.chain.cuda_graphs = o.cuda_graphs == "on" || (o.cuda_graphs == "auto" && gpu);
  o.chain.data_on_device = o.data_on_device == "on" || (o.data_on_device == "auto" && gpu);
}

std::string help_text() {
  std::ostringstream out;
  out << "usage: refine_app DATASET [flags]\n"
         "       refine_app --table1 [--table1-datasets cifar10,svhn] [flags]\n"
         "       refine_app --resume RUN_DIR\n"
         "       refine_app merge SHARD_RUN_DIR... --out DIR   (refine_app merge --help)\n"
         "       refine_app predict|evaluate|export MODEL ... (a trained model; see below)\n\n"
         "The Label Refinery chain: R1 trains on the ground truth, labels the training set with its\n"
         "softmax, R2 trains on those soft labels, and so on. DATASET is cifar10, svhn,\n"
         "fashion-mnist or an image-folder tree ROOT/{train,test}/<class>/*.png|jpg.\n"
         "Validation uses hard labels; the test split is only reported, never used for a decision.\n\n"
         "flags (value: description (default)):\n";
  for (const Flag& f : flags()) {
    out << "  " << f.name;
    if (!f.arg.empty()) out << ' ' << f.arg;
    out << "\n      " << f.help << '\n';
  }
  out << "\nexit codes: 0 done, 1 error (data, files, numerics), 2 bad command line, 130 interrupted\n"
         "(continue with --resume RUN_DIR).\n\n"
      << model_commands_help();
  return out.str();
}

}  // namespace rf::app
