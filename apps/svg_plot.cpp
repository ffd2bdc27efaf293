#include "apps/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace rf::app {

namespace {

constexpr double kW = 640, kH = 360, kLeft = 60, kRight = 150, kTop = 30, kBottom = 45;
const char* const kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"};

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}

// A "nice" tick step near range / 5.
double tick_step(double range) {
  const double raw = range / 5, mag = std::pow(10, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * mag) return m * mag;
  return 10 * mag;
}

}  // namespace

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string svg_line_plot(const std::string& title, const std::string& x_label,
                          const std::string& y_label, const std::vector<Series>& series) {
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const Series& s : series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.y[i])) continue;
      const double e = s.error.empty() ? 0 : s.error[i];
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i] - e);
      y1 = std::max(y1, s.y[i] + e);
    }
  if (!std::isfinite(x0)) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (x1 == x0) x0 -= 0.5, x1 += 0.5;
  if (y1 - y0 < 1e-9) y0 -= 0.5, y1 += 0.5;
  const double pad = 0.05 * (y1 - y0);
  y0 -= pad;
  y1 += pad;
  const double pw = kW - kLeft - kRight, ph = kH - kTop - kBottom;
  auto px = [&](double x) { return kLeft + (x - x0) / (x1 - x0) * pw; };
  auto py = [&](double y) { return kTop + (1 - (y - y0) / (y1 - y0)) * ph; };

  std::string o = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(kW) + "\" height=\"" + num(kH) +
                  "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  o += "<text x=\"" + num(kW / 2) + "\" y=\"18\" text-anchor=\"middle\" font-size=\"14\">" + html_escape(title) + "</text>\n";
  o += "<rect x=\"" + num(kLeft) + "\" y=\"" + num(kTop) + "\" width=\"" + num(pw) + "\" height=\"" + num(ph) +
       "\" fill=\"none\" stroke=\"#999\"/>\n";
  const double ys = tick_step(y1 - y0);
  for (double t = std::ceil(y0 / ys) * ys; t <= y1; t += ys) {
    o += "<line x1=\"" + num(kLeft) + "\" x2=\"" + num(kLeft + pw) + "\" y1=\"" + num(py(t)) + "\" y2=\"" + num(py(t)) +
         "\" stroke=\"#eee\"/><text x=\"" + num(kLeft - 6) + "\" y=\"" + num(py(t) + 4) + "\" text-anchor=\"end\">" +
         html_escape([&] { char b[32]; std::snprintf(b, sizeof b, "%g", std::round(t / ys) * ys + 0.0 /* no "-0" */); return std::string(b); }()) + "</text>\n";
  }
  const double xs = std::max(1.0, tick_step(x1 - x0));
  for (double t = std::ceil(x0 / xs) * xs; t <= x1 + 1e-9; t += xs) {
    char b[32];
    std::snprintf(b, sizeof b, "%g", t);
    o += "<text x=\"" + num(px(t)) + "\" y=\"" + num(kTop + ph + 16) + "\" text-anchor=\"middle\">" + b + "</text>\n";
  }
  o += "<text x=\"" + num(kLeft + pw / 2) + "\" y=\"" + num(kH - 8) + "\" text-anchor=\"middle\">" + html_escape(x_label) + "</text>\n";
  o += "<text transform=\"translate(14," + num(kTop + ph / 2) + ") rotate(-90)\" text-anchor=\"middle\">" + html_escape(y_label) + "</text>\n";

  for (size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    const std::string color = kPalette[size_t(s.color) % std::size(kPalette)];
    std::string points;
    for (size_t i = 0; i < s.x.size(); ++i)
      if (std::isfinite(s.y[i])) points += num(px(s.x[i])) + "," + num(py(s.y[i])) + " ";
    o += "<polyline fill=\"none\" stroke=\"" + color + "\" stroke-width=\"2\"" +
         (s.dashed ? " stroke-dasharray=\"5,4\"" : "") + " points=\"" + points + "\"/>\n";
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.y[i])) continue;
      if (!s.error.empty() && s.error[i] > 0) {
        const double x = px(s.x[i]), lo = py(s.y[i] - s.error[i]), hi = py(s.y[i] + s.error[i]);
        o += "<path stroke=\"" + color + "\" d=\"M" + num(x) + "," + num(lo) + "V" + num(hi) + "M" + num(x - 5) + "," +
             num(lo) + "h10M" + num(x - 5) + "," + num(hi) + "h10\"/>\n";
      }
      if (s.x.size() <= 20)
        o += "<circle cx=\"" + num(px(s.x[i])) + "\" cy=\"" + num(py(s.y[i])) + "\" r=\"3\" fill=\"" + color + "\"/>\n";
    }
    const double ly = kTop + 10 + 18 * double(k);
    o += "<line x1=\"" + num(kW - kRight + 10) + "\" x2=\"" + num(kW - kRight + 34) + "\" y1=\"" + num(ly) + "\" y2=\"" +
         num(ly) + "\" stroke=\"" + color + "\" stroke-width=\"2\"" + (s.dashed ? " stroke-dasharray=\"5,4\"" : "") +
         "/><text x=\"" + num(kW - kRight + 40) + "\" y=\"" + num(ly + 4) + "\">" + html_escape(s.name) + "</text>\n";
  }
  o += "</svg>\n";
  return o;
}

}  // namespace rf::app
