#include "apps/grid.h"

#include "apps/table1.h"

namespace rf::app {

std::vector<GridExperiment> grid_experiments(const ChainConfig& base, const std::optional<GridConfig>& table1) {
  if (!table1) return {GridExperiment{base, "", false, base.dataset}};
  std::vector<GridExperiment> out;
  for (const std::string& dataset : table1->datasets)
    for (bool augment : {false, true})
      out.push_back({table1_cell(base, dataset, augment), table1_cell_dir("", dataset, augment), augment,
                     dataset + ", augmentation " + (augment ? "on" : "off")});
  return out;
}

std::vector<int> shard_seeds(const std::optional<Shard>& shard, int experiment, int seeds) {
  std::vector<int> out;
  for (int k = 0; k < seeds; ++k)
    if (!shard || (experiment * seeds + k) % shard->count == shard->index) out.push_back(k);
  return out;
}

std::string cell_name(const GridExperiment& e, int experiment, int seed_index, int seeds) {
  return "cell " + std::to_string(experiment * seeds + seed_index) + " (" + e.name + ", seed " +
         std::to_string(seed_index) + ")";
}

std::map<std::string, data::TrainTest> load_grid_data(const std::vector<GridExperiment>& experiments,
                                                      const std::optional<Shard>& shard, int seeds,
                                                      const DataLocation& where, bool download) {
  std::map<std::string, data::TrainTest> out;
  for (size_t e = 0; e < experiments.size(); ++e) {
    const ChainConfig& c = experiments[e].chain;
    if (!out.count(c.dataset) && !shard_seeds(shard, int(e), seeds).empty())
      out.emplace(c.dataset, fetch_and_load(c, where, download));
  }
  return out;
}

Json shard_to_json(const std::optional<Shard>& s) {
  return s ? Json::object({{"index", s->index}, {"count", s->count}}) : Json();
}

std::optional<Shard> shard_from_json(const Json& j) {
  if (j.is_null()) return std::nullopt;
  return Shard{json_integer<int>(j.at("index")), json_integer<int>(j.at("count"))};
}

}  // namespace rf::app
