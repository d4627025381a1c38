// Compiled with -ffp-contract=off (csrc/CMakeLists.txt): a fused multiply-add would change bits.
#include "runtime/det_math.h"

#include <cmath>
#include <stdexcept>

namespace fdal {

namespace {

constexpr double kLog2E = 1.4426950408889634;
constexpr double kLn2Hi = 0.6931471803691238;   // 0x3FE62E42FEE00000
constexpr double kLn2Lo = 1.9082149292705877e-10;  // 0x3DEA39EF35793C76

// 1/j! for j = 0..13; each quotient is the float64 nearest the fraction (j! is exact in float64).
struct ExpCoefficients {
  double c[14];
  ExpCoefficients() {
    double factorial = 1.0;
    for (int j = 0; j < 14; ++j) {
      if (j > 0) factorial *= j;
      c[j] = 1.0 / factorial;
    }
  }
};

// 1/(2j+1) for j = 0..11.
struct LogCoefficients {
  double c[12];
  LogCoefficients() {
    for (int j = 0; j < 12; ++j) c[j] = 1.0 / double(2 * j + 1);
  }
};

}  // namespace

double det_exp(double t) {
  static const ExpCoefficients coef;
  if (t < -745.0) return 0.0;
  if (t > 709.0) throw std::domain_error("det_exp: argument above 709");
  const double k = std::floor(t * kLog2E + 0.5);
  const double r = (t - k * kLn2Hi) - k * kLn2Lo;
  double p = coef.c[13];
  for (int j = 12; j >= 0; --j) p = coef.c[j] + r * p;
  return std::ldexp(p, int(k));
}

double det_log(double s) {
  static const LogCoefficients coef;
  int e = 0;
  double m = std::frexp(s, &e);
  if (m < 0.7071067811865476) {  // sqrt(1/2) rounded to float64
    m *= 2.0;
    e -= 1;
  }
  const double u = (m - 1.0) / (m + 1.0);
  const double u2 = u * u;
  double q = coef.c[11];
  for (int j = 10; j >= 0; --j) q = coef.c[j] + u2 * q;
  const double l = 2.0 * u * q;
  const double de = double(e);
  return de * kLn2Hi + (de * kLn2Lo + l);
}

float det_sigmoid_score(std::int32_t acc, float unit) {
  const double x = double(acc) * double(unit);
  if (x >= 0.0) return float(1.0 / (1.0 + det_exp(-x)));
  const double e = det_exp(x);
  return float(e / (1.0 + e));
}

}  // namespace fdal
