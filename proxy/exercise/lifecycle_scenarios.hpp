// Lifecycle scenarios (`exercise --scenario NAME`): the corners of the protocol a guest boot
// rarely reaches, each one CheckOutcome naming the spec section it exercises.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "proxy/exercise/check_outcome.hpp"
#include "proxy/exercise/driver_io.hpp"

namespace vhs::exercise {

class Engine;

struct ScenarioInfo {
  std::string_view name;  // "stop-restart"
  std::string_view what;  // one line, with the spec section
  Outcome<bool> (*run)(Engine&);
};

std::span<const ScenarioInfo> lifecycle_scenarios();
bool is_lifecycle_scenario(std::string_view name);

// Runs one scenario on a set-up engine; unknown names fail.
CheckOutcome run_lifecycle_scenario(std::string_view name, Engine& engine);

}  // namespace vhs::exercise
