#include "apps/paired_interval.h"

#include <cmath>
#include <numbers>

#include "engine/check.h"

namespace rf::app {

namespace {

// P(|T| < t) for Student's t with an integer number of degrees of freedom, in closed form
// (Abramowitz & Stegun 26.7.3 and 26.7.4), with theta = atan(t / sqrt(df)).
double t_two_sided_probability(double t, int df) {
  const double theta = std::atan(t / std::sqrt(double(df)));
  const double s = std::sin(theta), c2 = std::cos(theta) * std::cos(theta);
  if (df % 2 == 0) {
    // sin(theta) * (1 + 1/2 cos^2 + 1*3/(2*4) cos^4 + ... up to cos^(df-2))
    double term = 1, sum = 1;
    for (int k = 2; k <= df - 2; k += 2) {
      term *= c2 * double(k - 1) / double(k);
      sum += term;
    }
    return s * sum;
  }
  // 2/pi * (theta + sin(theta) cos(theta) (1 + 2/3 cos^2 + 2*4/(3*5) cos^4 + ... up to cos^(df-3)))
  double sum = 0;
  if (df > 1) {
    double term = 1;
    sum = 1;
    for (int k = 3; k <= df - 2; k += 2) {
      term *= c2 * double(k - 1) / double(k);
      sum += term;
    }
    sum *= s * std::cos(theta);
  }
  return 2 / std::numbers::pi * (theta + sum);
}

}  // namespace

double student_t_975(int df) {
  RF_CHECK(df >= 1, "student_t_975: " << df << " degrees of freedom");
  // The probability rises monotonically in t; bisect to double precision.
  double lo = 0, hi = 1e3;  // t(0.975, 1) = 12.706
  for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; ++i) {
    const double mid = (lo + hi) / 2;
    (t_two_sided_probability(mid, df) < 0.95 ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

PairedInterval paired_interval(const std::vector<double>& refined, const std::vector<double>& control) {
  RF_CHECK(refined.size() == control.size(), "paired_interval: " << refined.size() << " refined values, "
                                                                 << control.size() << " controls");
  std::vector<double> d(refined.size());
  for (size_t i = 0; i < d.size(); ++i) d[i] = refined[i] - control[i];
  PairedInterval p;
  p.difference = mean_std(d);
  if (!p.defined()) {
    p.low = p.high = std::nan("");
    return p;
  }
  const double half = student_t_975(p.difference.n - 1) * p.difference.std / std::sqrt(double(p.difference.n));
  p.low = p.difference.mean - half;
  p.high = p.difference.mean + half;
  return p;
}

}  // namespace rf::app
