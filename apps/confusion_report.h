#pragma once
// An evaluation as a person reads it: per-class accuracy and the confusion matrix as text
// tables (a terminal, README) and the matrix as a self-contained SVG picture.
#include <string>
#include <vector>

#include "train/metrics.h"

namespace rf::app {

// "class  images  accuracy" rows, one per class.
std::string per_class_table(const train::ConfusionMatrix& m, const std::vector<std::string>& names);
// Counts, rows the true class and columns the predicted one, both numbered (row labels name
// the class).
std::string confusion_table(const train::ConfusionMatrix& m, const std::vector<std::string>& names);
// Cells shaded by the fraction of their row, each holding its count.
std::string confusion_svg(const train::ConfusionMatrix& m, const std::vector<std::string>& names,
                          const std::string& title);

}  // namespace rf::app
