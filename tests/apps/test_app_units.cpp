// refine_app's pieces without training: the command line, label statistics, aggregates, run
// directories, atomic files and the plots.
#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>

#include "apps/cli.h"
#include "apps/file_io.h"
#include "apps/grid.h"
#include "apps/label_stats.h"
#include "apps/multi_gpu.h"
#include "apps/results.h"
#include "apps/run_dir.h"
#include "apps/svg_plot.h"
#include "engine/atomic_file.h"

namespace fs = std::filesystem;
using namespace rf::app;

namespace {

Options parse(std::vector<std::string> args) {
  args.insert(args.begin(), "refine_app");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return parse_command_line(int(argv.size()), argv.data());
}

}  // namespace

TEST_CASE("recipes fill every setting; explicit flags win whatever their order") {
  const Options d = parse({"cifar10"});
  CHECK(d.chain.recipe == "default");
  CHECK(d.chain.models == std::vector<std::string>{"resnet20"});
  CHECK(d.chain.optimizer == "sgd");
  CHECK(d.chain.generations == 3);
  CHECK(d.chain.augment == "crop");
  const Options b = parse({"--epochs", "7", "svhn", "--recipe", "blog"});
  CHECK(b.chain.dataset == "svhn");
  CHECK(b.chain.models == std::vector<std::string>{"resnet50"});
  CHECK(b.chain.batch_size == 250);
  CHECK(b.chain.optimizer == "adam");
  CHECK(b.chain.schedule == "plateau");
  CHECK(b.chain.early_stopping);
  CHECK(b.chain.val_split == "tail");
  CHECK(b.chain.val_fraction == doctest::Approx(0.15));
  CHECK(b.chain.augment == "keras");
  CHECK(b.chain.augment_copies == 2);
  CHECK(b.chain.epochs == 7);
  const Options m = parse({"cifar10", "--model=resnet50,resnet20", "--generations", "3", "--refine", "dynamic",
                           "--alpha", "0.5", "--temperature", "2", "--seeds", "3", "--device", "cpu", "--threads", "2"});
  CHECK(m.chain.model_for(1) == "resnet50");
  CHECK(m.chain.model_for(2) == "resnet20");
  CHECK(m.chain.model_for(3) == "resnet20");
  CHECK(m.chain.refine == "dynamic");
  CHECK(m.chain.alpha == 0.5);
  CHECK(m.threads == 2);
  const Options t = parse({"--table1", "--table1-datasets", "cifar10,fashion-mnist", "--seeds", "2"});
  REQUIRE(t.table1);
  CHECK(t.table1->datasets == std::vector<std::string>{"cifar10", "fashion-mnist"});
}

TEST_CASE("precise batch-norm statistics: by default from 4,000 images, whatever the batch size") {
  CHECK(parse({"cifar10"}).chain.precise_bn == 32);                      // batch 128: 4,096 images
  CHECK(parse({"cifar10", "--recipe", "blog"}).chain.precise_bn == 16);  // batch 250
  CHECK(parse({"--batch-size", "50", "cifar10"}).chain.precise_bn == 80);
  CHECK(parse({"cifar10", "--batch-size", "3000"}).chain.precise_bn == 2);
  CHECK(parse({"cifar10", "--batch-size", "4000"}).chain.precise_bn == 1);
  CHECK(parse({"--precise-bn", "7", "cifar10", "--recipe", "blog"}).chain.precise_bn == 7);
  CHECK(parse({"cifar10", "--precise-bn", "0"}).chain.precise_bn == 0);  // off: the running averages
  CHECK_THROWS_WITH_AS(parse({"cifar10", "--precise-bn", "-1"}), doctest::Contains("--precise-bn"), UsageError);
}

TEST_CASE("grid cells: numbered experiment by experiment, seed by seed; shard K/N takes those K mod N") {
  const Options t = parse({"--table1", "--table1-datasets", "cifar10,svhn", "--seeds", "3", "--shard", "1/4"});
  REQUIRE(t.shard);
  CHECK(t.shard->index == 1);
  CHECK(t.shard->count == 4);
  const auto experiments = grid_experiments(t.chain, t.table1);
  REQUIRE(experiments.size() == 4);
  CHECK(experiments[3].dir == "svhn-aug1");
  CHECK(experiments[3].chain.dataset == "svhn");
  CHECK(experiments[0].chain.augment == "none");
  // cells 0..11: shard 1/4 runs 1, 5, 9 = (cifar10 off, seed 1), (cifar10 on, seed 2), (svhn on, seed 0)
  CHECK(shard_seeds(t.shard, 0, 3) == std::vector<int>{1});
  CHECK(shard_seeds(t.shard, 1, 3) == std::vector<int>{2});
  CHECK(shard_seeds(t.shard, 2, 3).empty());
  CHECK(shard_seeds(t.shard, 3, 3) == std::vector<int>{0});
  CHECK(shard_seeds(std::nullopt, 3, 3) == std::vector<int>{0, 1, 2});
  CHECK(cell_name(experiments[3], 3, 0, 3) == "cell 9 (svhn, augmentation on, seed 0)");
  const Options plain = parse({"cifar10", "--seeds", "5"});
  const auto one = grid_experiments(plain.chain, plain.table1);
  REQUIRE(one.size() == 1);
  CHECK(one[0].dir.empty());
  CHECK(shard_seeds(Shard{0, 2}, 0, 5) == std::vector<int>{0, 2, 4});
  CHECK(shard_from_json(shard_to_json(Shard{3, 8}))->count == 8);
  CHECK_FALSE(shard_from_json(shard_to_json(std::nullopt)));
  CHECK(parse({"cifar10", "--gpus", "0,2"}).gpus == std::vector<std::string>{"0", "2"});
}

TEST_CASE("child processes: environment, log, exit codes, and a stop passed on") {
  const fs::path dir = fs::temp_directory_path() / ("rf_test_children_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::vector<ChildProcess> children = {
      {"ok", {"-c", "echo sees $CUDA_VISIBLE_DEVICES"}, {{"CUDA_VISIBLE_DEVICES", "3"}}, dir / "a.log"},
      {"fails", {"-c", "echo bad >&2; exit 3"}, {}, dir / "b.log"},
      {"killed", {"-c", "kill -9 $$"}, {}, dir / "c.log"}};
  CHECK(run_children("/bin/sh", children, nullptr) == std::vector<int>{0, 3, 1000 + SIGKILL});
  CHECK(read_text_file(dir / "a.log") == "sees 3\n");
  CHECK(read_text_file(dir / "b.log") == "bad\n");
  // A stop reaches the children still running as SIGINT (their own process group: not twice).
  const std::atomic<bool> stop{true};
  const auto start = std::chrono::steady_clock::now();
  CHECK(run_children("/bin/sh", {{"sleeps", {"-c", "exec sleep 30"}, {}, dir / "d.log"}}, &stop) ==
        std::vector<int>{1000 + SIGINT});
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
  fs::remove_all(dir);
}

TEST_CASE("bad command lines name the flag") {
  auto fails = [](std::vector<std::string> args, const char* says) {
    CHECK_THROWS_WITH_AS(parse(args), doctest::Contains(says), UsageError);
  };
  fails({"cifar10", "--epochs", "0"}, "--epochs");
  fails({"cifar10", "--epochs", "ten"}, "not an integer");
  fails({"cifar10", "--refine", "sometimes"}, "--refine");
  fails({"cifar10", "--alpha", "1.5"}, "--alpha");
  fails({"cifar10", "--temperature", "-1"}, "--temperature");
  fails({"cifar10", "--model", "vgg16"}, "--model");
  fails({"cifar10", "--frobnicate"}, "unknown flag --frobnicate");
  fails({"cifar10", "--batch-size"}, "needs a value");
  fails({}, "no dataset given");
  fails({"cifar10", "svhn"}, "one dataset expected");
  fails({"cifar10", "--schedule", "plateau", "--val-fraction", "0"}, "--val-fraction 0");
  fails({"cifar10", "--shard", "2"}, "--shard: '2' is not K/N");
  fails({"cifar10", "--shard", "2/2"}, "K must be below N");
  fails({"cifar10", "--shard", "0/0"}, "--shard N");
  fails({"cifar10", "--shard", "0/2", "--gpus", "0,1"}, "--shard and --gpus do not combine");
  fails({"cifar10", "--gpus", ","}, "--gpus: no GPU named");
  fails({"cifar10", "--image-size", "32"}, "is not HxW");
  fails({"cifar10", "--image-size", "0x32"}, "--image-size (height)");
  CHECK(parse({"--help"}).help);
}

TEST_CASE("--val-fraction 0 trains on the whole split, and is refused where a decision needs validation") {
  const Options all = parse({"cifar10", "--val-fraction", "0"});
  CHECK(all.chain.val_fraction == 0);
  CHECK(all.chain.schedule == "cosine");
  // The blog recipe's plateau schedule and early stopping both watch validation accuracy.
  CHECK_THROWS_WITH_AS(parse({"cifar10", "--recipe", "blog", "--val-fraction", "0"}),
                       "--val-fraction 0 leaves no validation images, but --schedule plateau and --early-stopping "
                       "decide on validation accuracy (blog recipe): add --schedule cosine and --early-stopping 0, "
                       "or hold out a validation fraction",
                       UsageError);
  CHECK_THROWS_WITH_AS(parse({"cifar10", "--val-fraction", "0", "--early-stopping", "5"}),
                       doctest::Contains("but --early-stopping decides on validation accuracy"), UsageError);
  CHECK_THROWS_WITH_AS(parse({"cifar10", "--val-fraction", "0", "--schedule", "plateau"}),
                       doctest::Contains("but --schedule plateau decides on validation accuracy"), UsageError);
  const Options blog = parse({"cifar10", "--recipe", "blog", "--val-fraction", "0", "--schedule", "cosine",
                              "--early-stopping", "0"});
  CHECK(blog.chain.val_fraction == 0);
  CHECK_FALSE(blog.chain.early_stopping);
}

TEST_CASE("a missing value prints as n/a, never as nan") {
  CHECK(percent_text(0.12345, 2) == "12.35");
  CHECK(percent_text(std::nan(""), 2) == "n/a");
  CHECK(format_percent(mean_std({std::nan("")})) == "n/a");
  CHECK(format_percent(mean_std({std::nan(""), std::nan("")})) == "n/a");
  GenerationResult r;
  r.val_accuracy = std::nan("");
  CHECK(summary_table({{r}}).find("| n/a |") != std::string::npos);
  CHECK(summary_table({{r}}).find("nan") == std::string::npos);
}

TEST_CASE("the configuration round-trips through JSON exactly") {
  const Options o = parse({"svhn", "--recipe", "blog", "--model", "resnet8,resnet20", "--alpha", "0.3", "--seed", "7",
                           "--image-size", "24x20"});
  const ChainConfig back = ChainConfig::from_json(rf::parse_json(o.chain.to_json().dump(), "test"));
  CHECK(back.to_json().dump() == o.chain.to_json().dump());
  CHECK(back.sample_order_seed == rf::data::kDefaultSampleOrderSeed);
  CHECK(back.image_size == rf::data::ImageSize{24, 20});
  // Runs recorded before --image-size existed read their images as they are.
  rf::Json older = o.chain.to_json();
  older.erase("image_size");
  CHECK_FALSE(ChainConfig::from_json(older).image_size.has_value());
}

TEST_CASE("--cuda-graphs and --data-on-device: auto is on for a GPU chain and off for a CPU one") {
  for (const rf::Device d : {rf::Device::CPU, rf::Device::CUDA}) {
    Options o = parse({"cifar10"});
    resolve_device_flags(o, d);
    CHECK(o.chain.cuda_graphs == (d == rf::Device::CUDA));
    CHECK(o.chain.data_on_device == (d == rf::Device::CUDA));
    Options off = parse({"cifar10", "--cuda-graphs", "off", "--data-on-device", "off"});
    resolve_device_flags(off, d);
    CHECK_FALSE(off.chain.cuda_graphs);
    CHECK_FALSE(off.chain.data_on_device);
  }
  Options cpu = parse({"cifar10", "--data-on-device", "on", "--cuda-graphs", "auto"});
  resolve_device_flags(cpu, rf::Device::CPU);
  CHECK(cpu.chain.data_on_device);
  CHECK_FALSE(cpu.chain.cuda_graphs);
  Options graphs = parse({"cifar10", "--cuda-graphs", "on"});
  CHECK_THROWS_WITH_AS(resolve_device_flags(graphs, rf::Device::CPU),
                       doctest::Contains("--cuda-graphs on: CUDA graphs need the GPU"), UsageError);
  // A resumed run keeps what it recorded; a GPU run resumed on the CPU goes on without graphs.
  Options gpu_run = parse({"cifar10"});
  resolve_device_flags(gpu_run, rf::Device::CUDA);
  Options resumed = gpu_run;
  resumed.cuda_graphs = resumed.data_on_device = "off";  // flags of the resuming command: ignored
  resolve_device_flags(resumed, rf::Device::CUDA, true);
  CHECK(resumed.chain.cuda_graphs);
  CHECK(resumed.chain.data_on_device);
  resolve_device_flags(resumed, rf::Device::CPU, true);
  CHECK_FALSE(resumed.chain.cuda_graphs);
  CHECK(resumed.chain.data_on_device);
}

TEST_CASE("--concurrent-backward: off by default, on only for a GPU chain, recorded, kept by --resume") {
  for (const rf::Device d : {rf::Device::CPU, rf::Device::CUDA}) {
    Options o = parse({"cifar10"});
    CHECK(o.concurrent_backward == "off");
    resolve_device_flags(o, d);
    CHECK_FALSE(o.chain.concurrent_backward);
    Options off = parse({"cifar10", "--concurrent-backward", "off"});
    resolve_device_flags(off, d);
    CHECK_FALSE(off.chain.concurrent_backward);
  }
  Options on = parse({"cifar10", "--concurrent-backward", "on"});
  CHECK(on.concurrent_backward == "on");
  Options on_cpu = on;
  resolve_device_flags(on, rf::Device::CUDA);
  CHECK(on.chain.concurrent_backward);
  CHECK(parse({"cifar10", "--concurrent-backward=on"}).concurrent_backward == "on");
  CHECK_THROWS_WITH_AS(parse({"cifar10", "--concurrent-backward", "auto"}),
                       doctest::Contains("--concurrent-backward"), UsageError);
  CHECK_THROWS_WITH_AS(parse({"cifar10", "--concurrent-backward"}), doctest::Contains("--concurrent-backward"),
                       UsageError);
  // It only helps a GPU: refused on the CPU, naming the flag.
  CHECK_THROWS_WITH_AS(resolve_device_flags(on_cpu, rf::Device::CPU),
                       doctest::Contains("--concurrent-backward on: a second CUDA stream only helps a GPU"), UsageError);
  // Recorded in config.json; runs recorded before it existed read as off.
  rf::Json j = rf::parse_json(on.chain.to_json().dump(), "test");
  CHECK(j.at("concurrent_backward").get<bool>());
  const ChainConfig back = ChainConfig::from_json(j);
  CHECK(back.concurrent_backward);
  CHECK(back.to_json().dump() == on.chain.to_json().dump());
  rf::Json older = on.chain.to_json();
  older.erase("concurrent_backward");
  CHECK_FALSE(ChainConfig::from_json(older).concurrent_backward);
  // A resumed run keeps what it recorded, whatever the resuming command says; resumed on the CPU
  // it goes on with the backward pass in order, as CUDA graphs are turned off there.
  Options resumed = on;
  resumed.concurrent_backward = "off";  // the resuming command's flag: ignored
  resolve_device_flags(resumed, rf::Device::CUDA, true);
  CHECK(resumed.chain.concurrent_backward);
  resolve_device_flags(resumed, rf::Device::CPU, true);
  CHECK_FALSE(resumed.chain.concurrent_backward);
  Options resumed_off = parse({"cifar10"});
  resolve_device_flags(resumed_off, rf::Device::CUDA);
  resumed_off.concurrent_backward = "on";  // ignored too
  resolve_device_flags(resumed_off, rf::Device::CUDA, true);
  CHECK_FALSE(resumed_off.chain.concurrent_backward);
}

TEST_CASE("--precision, --cuda-graphs, --data-on-device and --eval-batch-size are recorded; runs from before them read as they ran") {
  Options o = parse({"cifar10", "--precision", "fp32", "--cuda-graphs", "on", "--data-on-device", "on"});
  resolve_device_flags(o, rf::Device::CUDA);
  CHECK(o.chain.precision == "fp32");
  CHECK(o.chain.cuda_graphs);
  CHECK(o.chain.data_on_device);
  const ChainConfig back = ChainConfig::from_json(rf::parse_json(o.chain.to_json().dump(), "test"));
  CHECK(back.precision == "fp32");
  CHECK(back.cuda_graphs);
  rf::Json older = o.chain.to_json();
  older.erase("precision");
  older.erase("eval_batch_size");
  older.erase("cuda_graphs");
  older.erase("data_on_device");
  CHECK(ChainConfig::from_json(older).precision == "tf32");
  CHECK_FALSE(ChainConfig::from_json(older).data_on_device);
  CHECK_FALSE(ChainConfig::from_json(older).cuda_graphs);
  rf::Json bad = o.chain.to_json();
  bad["precision"] = "bf17";
  CHECK_THROWS_WITH(ChainConfig::from_json(bad), doctest::Contains("bf17"));
  const Options eval = parse({"cifar10", "--eval-batch-size", "1000"});
  CHECK(ChainConfig::from_json(rf::parse_json(eval.chain.to_json().dump(), "test")).eval_batch_size == 1000);
  CHECK(ChainConfig::from_json(older).eval_batch_size == 0);  // absent: the training batches
  CHECK_THROWS_WITH_AS(parse({"cifar10", "--eval-batch-size", "-1"}), doctest::Contains("--eval-batch-size"), UsageError);
  const Options bf16 = parse({"cifar10", "--precision", "bf16"});
  CHECK(ChainConfig::from_json(rf::parse_json(bf16.chain.to_json().dump(), "test")).precision == "bf16");
  CHECK_THROWS_WITH_AS(parse({"cifar10", "--precision", "fp16"}), doctest::Contains("--precision"), UsageError);
}

TEST_CASE("the sample order is recorded; a config.json from before it loads with the order it ran in") {
  const Options o = parse({"cifar10"});
  rf::Json j = rf::parse_json(o.chain.to_json().dump(), "test");
  CHECK(j.at("sample_order_seed").get<int64_t>() == int64_t(rf::data::kDefaultSampleOrderSeed));
  j["sample_order_seed"] = int64_t(12);
  CHECK(ChainConfig::from_json(j).sample_order_seed == std::uint64_t(12));
  j["sample_order_seed"] = nullptr;  // null: the files' class-sorted order
  CHECK_FALSE(ChainConfig::from_json(j).sample_order_seed.has_value());
  // Older runs have no such field; they trained on the files in class-sorted order, and a
  // resume must see the same images in the same places.
  rf::Json older = j;
  older.erase("sample_order_seed");
  const ChainConfig old = ChainConfig::from_json(older);
  CHECK_FALSE(old.sample_order_seed.has_value());
  CHECK(old.dataset == "cifar10");
}

TEST_CASE("label agreement, entropy, top-k, mixing with the truth") {
  rf::data::SoftLabels s;
  s.rows = 2;
  s.classes = 3;
  s.values = {0.7f, 0.2f, 0.1f, 0.3f, 0.3f, 0.4f};
  const std::vector<std::int32_t> truth = {0, 1};
  CHECK(label_agreement(s, truth) == doctest::Approx(0.5));
  const double h0 = -(0.7 * std::log(0.7) + 0.2 * std::log(0.2) + 0.1 * std::log(0.1));
  const double h1 = -(0.6 * std::log(0.3) + 0.4 * std::log(0.4));
  CHECK(mean_entropy(s) == doctest::Approx((h0 + h1) / 2));
  CHECK(top_k(s.row(1), 3) == std::vector<int>{2, 0, 1});
  const auto mixed = mix_with_truth(s, truth, 0.25);
  CHECK(mixed.values[0] == doctest::Approx(0.25 * 0.7 + 0.75));
  CHECK(mixed.values[4] == doctest::Approx(0.25 * 0.3 + 0.75));
  rf::data::check_soft_labels(mixed, "mixed");
  const std::string csv = top_k_csv(s, truth, {"cat", "dog", "fox"}, 2);
  CHECK(csv == "row,truth,top1,p1,top2,p2\n0,cat,cat,0.700000,dog,0.200000\n1,dog,fox,0.400000,cat,0.300000\n");
}

TEST_CASE("mean and sample standard deviation over seeds") {
  const MeanStd m = mean_std({0.6, 0.7, 0.8});
  CHECK(m.mean == doctest::Approx(0.7));
  CHECK(m.std == doctest::Approx(0.1));
  CHECK(format_percent(m) == "70.0 ± 10.0");
  CHECK(format_percent(mean_std({0.5})) == "50.0");
}

TEST_CASE("run directories are never reused; files are replaced whole") {
  const fs::path out = fs::temp_directory_path() / ("rf_test_runs_" + std::to_string(::getpid()));
  fs::remove_all(out);
  const fs::path a = create_run_dir(out, "../shared/data/cifar10", "static");
  const fs::path b = create_run_dir(out, "../shared/data/cifar10", "static");
  CHECK(a != b);
  CHECK(a.filename().string().find("-cifar10-static") != std::string::npos);
  rf::write_file_atomic(a / "x.json", "{\"a\":1}");
  rf::write_file_atomic(a / "x.json", "{\"a\":2}");
  CHECK(read_text_file(a / "x.json") == "{\"a\":2}");
  int files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(a)) ++files;
  CHECK(files == 1);  // no temporary left behind
  fs::remove_all(out);
}

TEST_CASE("SVG plots are self-contained and escape their text") {
  Series s;
  s.name = "R<1>";
  s.x = {1, 2, 3};
  s.y = {60, 65, 62};
  s.error = {1, 2, 0};
  const std::string svg = svg_line_plot("a & b", "x", "y", {s});
  CHECK(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
  CHECK(svg.find("a &amp; b") != std::string::npos);
  CHECK(svg.find("R&lt;1&gt;") != std::string::npos);
  CHECK(svg.find("<polyline") != std::string::npos);
  CHECK(svg.find("http", 40) == std::string::npos);  // nothing fetched from elsewhere
}
