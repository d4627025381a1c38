// The one C++ table of ranking strategies: what each needs and how it picks. python/fdal/strategies.py
// is the Python table; the extension exports this one as fdal._core.STRATEGY_TABLE and
// tests/runtime/test_strategy_lists.py compares the two flag by flag. A new strategy is one row here
// (the static_asserts below check the row order and the flags), its key in keys.cpp (per-image) or
// its rule in pool_select (pool-level), and the row in Python.
#pragma once
#include <cstdint>
#include <string>

#include "rank/pool_select.h"

namespace fdal {

// Per-image strategies rank by a key each (rank/keys.h); pool-level ones run a rule of
// rank/pool_select.h on the ranker's seeded candidates (docs/selection.md, "Strategies").
enum class Strategy { Fdal, Margin, Entropy, Random, KCenter, TypiClust, ProbCover, Power, ClassBalanced };

// The type of the key reported per pick (fdal.strategies' key_dtype; the C API's fdal_key_type):
// per-image strategies rank by it; pool-level ones report each pick's margin key.
enum class KeyType { Int32, Int64, Float64, UInt64 };
constexpr const char* kKeyTypeNames[] = {"int32", "int64", "float64", "uint64"};

struct StrategyInfo {
  Strategy strategy;
  const char* name;
  bool needs_sampler;    // ranks on the score layer: the model must have one
  bool needs_embedding;  // its rule reads the model's int8 embedding (format 2.0)
  PoolRule rule;         // PoolRule::None: a per-image key orders the picks
  KeyType key;
};

inline constexpr StrategyInfo kStrategyTable[] = {
    {Strategy::Fdal, "fdal", true, false, PoolRule::None, KeyType::Int32},
    {Strategy::Margin, "margin", false, false, PoolRule::None, KeyType::Int64},
    {Strategy::Entropy, "entropy", false, false, PoolRule::None, KeyType::Float64},
    {Strategy::Random, "random", false, false, PoolRule::None, KeyType::UInt64},
    {Strategy::KCenter, "kcenter", false, true, PoolRule::KCenter, KeyType::Int64},
    {Strategy::TypiClust, "typiclust", false, true, PoolRule::TypiClust, KeyType::Int64},
    {Strategy::ProbCover, "probcover", false, true, PoolRule::ProbCover, KeyType::Int64},
    {Strategy::Power, "power", false, false, PoolRule::Power, KeyType::Int64},
    {Strategy::ClassBalanced, "classbalanced", false, false, PoolRule::ClassBalanced, KeyType::Int64},
};
constexpr int kNumStrategies = int(sizeof(kStrategyTable) / sizeof(kStrategyTable[0]));

namespace detail {
// Row i describes Strategy(i); a rule reads embeddings exactly when its strategy needs them; a
// pool-level strategy reports margin keys (int64).
constexpr bool strategy_table_is_consistent() {
  for (int i = 0; i < kNumStrategies; ++i) {
    const StrategyInfo& s = kStrategyTable[i];
    if (int(s.strategy) != i) return false;
    if (s.rule != PoolRule::None &&
        (s.needs_embedding == pool_rule_takes_scores(s.rule) || s.key != KeyType::Int64)) {
      return false;
    }
    if (s.rule == PoolRule::None && s.needs_embedding) return false;
  }
  return true;
}
}  // namespace detail
static_assert(detail::strategy_table_is_consistent(), "kStrategyTable: rows out of order or inconsistent flags");
static_assert(int(Strategy::ClassBalanced) + 1 == kNumStrategies, "kStrategyTable: one row per Strategy");

constexpr const StrategyInfo& strategy_info(Strategy s) { return kStrategyTable[int(s)]; }
constexpr const char* strategy_name(Strategy s) { return strategy_info(s).name; }
constexpr bool strategy_is_pool_level(Strategy s) { return strategy_info(s).rule != PoolRule::None; }
constexpr bool strategy_needs_embedding(Strategy s) { return strategy_info(s).needs_embedding; }

// Throws std::invalid_argument naming the known strategies.
Strategy parse_strategy(const std::string& name);

}  // namespace fdal
