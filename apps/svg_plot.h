#pragma once
// Small self-contained SVG line plots for the HTML report (no scripts, no external files).
#include <string>
#include <vector>

namespace rf::app {

struct Series {
  std::string name;
  std::vector<double> x, y;
  std::vector<double> error;  // empty, or a +- half-height per point (drawn as error bars)
  bool dashed = false;
  int color = 0;  // index into a fixed palette
};

std::string svg_line_plot(const std::string& title, const std::string& x_label,
                          const std::string& y_label, const std::vector<Series>& series);

std::string html_escape(const std::string& s);

}  // namespace rf::app
