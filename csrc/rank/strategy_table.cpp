#include "rank/strategy_table.h"

#include <stdexcept>

namespace fdal {

Strategy parse_strategy(const std::string& name) {
  for (const StrategyInfo& s : kStrategyTable) {
    if (name == s.name) return s.strategy;
  }
  std::string known;
  for (const StrategyInfo& s : kStrategyTable) known += std::string(known.empty() ? "" : ", ") + s.name;
  throw std::invalid_argument("unknown strategy '" + name + "'; known strategies: " + known);
}

}  // namespace fdal
