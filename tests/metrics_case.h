#pragma once
// Inputs for Backend::accumulate_metrics shared by the CPU test (against a naive loop) and the
// CUDA test (against the CPU backend): batches whose logits hold ties, NaN in the first column
// (which then wins, as the first maximum) and elsewhere (which never wins), with losses that turn
// NaN and then infinite, so the first non-finite batch must be kept.
#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/tensor.h"
#include "kernels/metric_totals.h"

namespace rf::test {

struct MetricsBatch {
  int64_t rows = 0;
  std::vector<float> logits;
  std::vector<int32_t> labels;
  float loss = 0;
};

inline std::vector<MetricsBatch> metrics_batches(int cols) {
  std::vector<MetricsBatch> out;
  const float losses[] = {1.5f, 2.25f, std::nanf(""), INFINITY, 0.5f};
  const int64_t rows[] = {7, 300, 1, 45, 257};
  uint32_t state = 12345;
  const auto next = [&state] { return state = state * 1664525u + 1013904223u; };
  for (int b = 0; b < 5; ++b) {
    MetricsBatch m;
    m.rows = rows[b];
    m.loss = losses[b];
    for (int64_t r = 0; r < m.rows; ++r) {
      for (int j = 0; j < cols; ++j) m.logits.push_back(float(int(next() >> 28)) - 7.f);  // many ties
      if (r % 11 == 3) m.logits[size_t(r * cols)] = std::nanf("");
      if (r % 13 == 5) m.logits[size_t(r * cols + cols / 2)] = std::nanf("");
      m.labels.push_back(int32_t(next() >> 8) % cols);
    }
    out.push_back(std::move(m));
  }
  return out;
}

struct MetricsResult {
  std::vector<double> totals;
  std::vector<int64_t> confusion;
};

// Runs the batches through `backend` from zeroed totals (first bad batch -1); the last batch is
// added without a loss.
inline MetricsResult run_metrics(Backend& backend, int cols) {
  std::vector<double> totals(kMetricSlots, 0.0);
  totals[kFirstBadBatch] = -1;
  std::vector<int64_t> confusion(size_t(cols) * size_t(cols), 0);
  Storage t(backend, totals.size() * sizeof(double)), c(backend, confusion.size() * sizeof(int64_t));
  backend.copy_from_host(t.data(), totals.data(), t.bytes());
  backend.copy_from_host(c.data(), confusion.data(), c.bytes());
  const std::vector<MetricsBatch> batches = metrics_batches(cols);
  for (size_t b = 0; b < batches.size(); ++b) {
    const MetricsBatch& m = batches[b];
    Storage logits(backend, m.logits.size() * sizeof(float)), labels(backend, m.labels.size() * sizeof(int32_t)),
        loss(backend, sizeof(float));
    backend.copy_from_host(logits.data(), m.logits.data(), logits.bytes());
    backend.copy_from_host(labels.data(), m.labels.data(), labels.bytes());
    backend.copy_from_host(loss.data(), &m.loss, sizeof(float));
    const bool with_loss = b + 1 < batches.size();
    backend.accumulate_metrics(m.rows, cols, static_cast<const float*>(logits.data()),
                               static_cast<const int32_t*>(labels.data()),
                               with_loss ? static_cast<const float*>(loss.data()) : nullptr,
                               static_cast<double*>(t.data()),
                               static_cast<int64_t*>(c.data()));
  }
  backend.copy_to_host(totals.data(), t.data(), t.bytes());
  backend.copy_to_host(confusion.data(), c.data(), c.bytes());
  return {totals, confusion};
}

}  // namespace rf::test
