#include "apps/confusion_report.h"

#include <algorithm>
#include <cstdio>
#include <iomanip>
#include <sstream>

#include "apps/svg_plot.h"
#include "engine/check.h"

namespace rf::app {

namespace {

size_t name_width(const std::vector<std::string>& names, size_t at_least) {
  size_t w = at_least;
  for (const auto& n : names) w = std::max(w, n.size());
  return w;
}

void check_names(const train::ConfusionMatrix& m, const std::vector<std::string>& names) {
  RF_CHECK(int(names.size()) == m.classes(), "confusion matrix of " << m.classes() << " classes with "
                                                                    << names.size() << " names");
}

int64_t row_total(const train::ConfusionMatrix& m, int truth) {
  int64_t n = 0;
  for (int p = 0; p < m.classes(); ++p) n += m.at(truth, p);
  return n;
}

}  // namespace

std::string per_class_table(const train::ConfusionMatrix& m, const std::vector<std::string>& names) {
  check_names(m, names);
  const int w = int(name_width(names, 5));
  const std::vector<double> acc = m.per_class_accuracy();
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-*s  %8s  %8s\n", w, "class", "images", "accuracy");
  out += line;
  for (int c = 0; c < m.classes(); ++c) {
    std::snprintf(line, sizeof line, "%-*s  %8lld  %7.2f%%\n", w, names[size_t(c)].c_str(),
                  static_cast<long long>(row_total(m, c)), 100 * acc[size_t(c)]);
    out += line;
  }
  return out;
}

std::string confusion_table(const train::ConfusionMatrix& m, const std::vector<std::string>& names) {
  check_names(m, names);
  int64_t largest = 1;
  for (const int64_t v : m.counts()) largest = std::max(largest, v);
  const int cw = std::max(int(std::to_string(largest).size()), int(std::to_string(m.classes() - 1).size())) + 1;
  const int w = std::max(int(name_width(names, 0)) + 3, 17);  // "true \ predicted" and a space
  std::ostringstream out;
  out << std::left << std::setw(w) << "true \\ predicted" << std::right;
  for (int p = 0; p < m.classes(); ++p) out << std::setw(cw) << p;
  out << '\n';
  for (int t = 0; t < m.classes(); ++t) {
    out << std::left << std::setw(w) << (std::to_string(t) + " " + names[size_t(t)]) << std::right;
    for (int p = 0; p < m.classes(); ++p) out << std::setw(cw) << m.at(t, p);
    out << '\n';
  }
  return out.str();
}

std::string confusion_svg(const train::ConfusionMatrix& m, const std::vector<std::string>& names,
                          const std::string& title) {
  check_names(m, names);
  const int n = m.classes();
  const int cell = 40, left = 20 + 7 * int(name_width(names, 4)), top = 60 + 7 * int(name_width(names, 4));
  const int width = left + n * cell + 20, height = top + n * cell + 40;
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
    << "\" font-family=\"sans-serif\" font-size=\"11\">\n"
    << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    << "<text x=\"" << width / 2 << "\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">" << html_escape(title) << "</text>\n"
    << "<text x=\"" << left + n * cell / 2 << "\" y=\"40\" text-anchor=\"middle\">predicted</text>\n"
    << "<text x=\"12\" y=\"" << top + n * cell / 2 << "\" text-anchor=\"middle\" transform=\"rotate(-90 12 "
    << top + n * cell / 2 << ")\">true</text>\n";
  for (int c = 0; c < n; ++c) {
    const std::string name = html_escape(names[size_t(c)]);
    const int x = left + c * cell + cell / 2, y = top + c * cell + cell / 2 + 4;
    s << "<text x=\"" << left - 6 << "\" y=\"" << y << "\" text-anchor=\"end\">" << name << "</text>\n"
      << "<text x=\"" << x << "\" y=\"" << top - 6 << "\" transform=\"rotate(-60 " << x << ' ' << top - 6 << ")\">"
      << name << "</text>\n";
  }
  for (int t = 0; t < n; ++t) {
    const int64_t total = row_total(m, t);
    for (int p = 0; p < n; ++p) {
      const double f = total ? double(m.at(t, p)) / double(total) : 0;
      // White to dark blue by the fraction of the row.
      char fill[32];
      std::snprintf(fill, sizeof fill, "rgb(%d,%d,%d)", int(255 - 222 * f), int(255 - 153 * f), int(255 - 75 * f));
      const int x = left + p * cell, y = top + t * cell;
      s << "<rect x=\"" << x << "\" y=\"" << y << "\" width=\"" << cell << "\" height=\"" << cell << "\" fill=\"" << fill
        << "\" stroke=\"#ccc\"><title>" << html_escape(names[size_t(t)]) << " as " << html_escape(names[size_t(p)])
        << ": " << m.at(t, p) << "</title></rect>\n"
        << "<text x=\"" << x + cell / 2 << "\" y=\"" << y + cell / 2 + 4 << "\" text-anchor=\"middle\" fill=\""
        << (f > 0.5 ? "white" : "black") << "\">" << m.at(t, p) << "</text>\n";
    }
  }
  s << "</svg>\n";
  return s.str();
}

}  // namespace rf::app
