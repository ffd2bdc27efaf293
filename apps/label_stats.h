#pragma once
// Summaries of a generation's soft labels, and their human-readable top-k CSV.
#include <span>
#include <string>
#include <vector>

#include "data/soft_labels.h"

namespace rf::app {

// Fraction of rows whose most probable class is the ground truth.
double label_agreement(const data::SoftLabels& s, std::span<const std::int32_t> truth);
// Mean over rows of -sum p log p (nats).
double mean_entropy(const data::SoftLabels& s);
// Indices of the k largest values of a row, largest first (lower index first on ties).
std::vector<int> top_k(std::span<const float> row, int k);
// "row,truth,top1,p1,...,topk,pk" with class names.
std::string top_k_csv(const data::SoftLabels& s, std::span<const std::int32_t> truth,
                      const std::vector<std::string>& classes, int k);
// alpha * refined + (1 - alpha) * one_hot(truth), row by row.
data::SoftLabels mix_with_truth(const data::SoftLabels& refined, std::span<const std::int32_t> truth,
                                double alpha);

}  // namespace rf::app
