#include "apps/label_stats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "engine/check.h"

namespace rf::app {

double label_agreement(const data::SoftLabels& s, std::span<const std::int32_t> truth) {
  RF_CHECK(truth.size() == s.rows, "labels of " << s.rows << " rows for " << truth.size() << " samples");
  if (s.rows == 0) return 0;
  size_t hits = 0;
  for (size_t i = 0; i < s.rows; ++i) hits += top_k(s.row(i), 1).front() == truth[i];
  return double(hits) / double(s.rows);
}

double mean_entropy(const data::SoftLabels& s) {
  if (s.rows == 0) return 0;
  double total = 0;
  for (size_t i = 0; i < s.rows; ++i)
    for (float p : s.row(i))
      if (p > 0) total -= double(p) * std::log(double(p));
  return total / double(s.rows);
}

std::vector<int> top_k(std::span<const float> row, int k) {
  std::vector<int> idx(row.size());
  std::iota(idx.begin(), idx.end(), 0);
  k = std::min<int>(k, int(row.size()));
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                    [&](int a, int b) { return row[size_t(a)] > row[size_t(b)] || (row[size_t(a)] == row[size_t(b)] && a < b); });
  idx.resize(size_t(k));
  return idx;
}

std::string top_k_csv(const data::SoftLabels& s, std::span<const std::int32_t> truth,
                      const std::vector<std::string>& classes, int k) {
  std::string out = "row,truth";
  for (int j = 1; j <= k; ++j) out += ",top" + std::to_string(j) + ",p" + std::to_string(j);
  out += '\n';
  char p[32];
  for (size_t i = 0; i < s.rows; ++i) {
    out += std::to_string(i) + ',' + classes[size_t(truth[i])];
    for (int c : top_k(s.row(i), k)) {
      std::snprintf(p, sizeof p, ",%.6f", double(s.row(i)[size_t(c)]));
      out += ',' + classes[size_t(c)] + p;
    }
    out += '\n';
  }
  return out;
}

data::SoftLabels mix_with_truth(const data::SoftLabels& refined, std::span<const std::int32_t> truth,
                                double alpha) {
  RF_CHECK(truth.size() == refined.rows, "labels of " << refined.rows << " rows for " << truth.size() << " samples");
  data::SoftLabels out = refined;
  const float a = float(alpha);
  for (size_t i = 0; i < out.rows; ++i) {
    float* row = out.values.data() + i * size_t(out.classes);
    for (int c = 0; c < out.classes; ++c) row[c] = a * row[c] + (1 - a) * (c == truth[i] ? 1.f : 0.f);
  }
  return out;
}

}  // namespace rf::app
