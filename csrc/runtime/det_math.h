// Deterministic float64 exp and log made only of IEEE +, -, *, / and exact power-of-two scaling,
// so that C++ (compiled with -ffp-contract=off) and numpy (fdal.oracle) agree bit for bit.
// The formulas are those of docs/quantization.md, "Heads and outputs".
#pragma once
#include <cstdint>

namespace fdal {

double det_exp(double t);   // t <= 709 (arguments here are always <= 0); t < -745 gives 0
double det_log(double s);   // s >= 1
// sigmoid(float64(acc) * float64(unit)) rounded to float32.
float det_sigmoid_score(std::int32_t acc, float unit);

}  // namespace fdal
