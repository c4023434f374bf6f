// Waiting for a condition in a test: poll it with a deadline instead of
// sleeping a fixed time and hoping it held by then. A fixed sleep is either
// too short on a loaded machine (a flaky failure) or too long everywhere (a
// slow suite), and it never says what it waited for.
//
//   ASSERT_TRUE(testing::Eventually("the agents are up", [&] { return Up() >= 9; }, 10s));
//
// On timeout the result names the condition and the deadline, so the failure
// says what never happened.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

namespace faultline::testing {

// Calls `condition` until it returns true or `deadline` has passed (then it
// is called one last time), sleeping `interval` between calls. Success when
// it held; otherwise a failure "timed out after N ms waiting for: <what>".
template <class Condition>
::testing::AssertionResult Eventually(
    const std::string& what, Condition condition, std::chrono::milliseconds deadline,
    std::chrono::milliseconds interval = std::chrono::milliseconds(10)) {
  const auto give_up = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < give_up) {
    if (condition()) return ::testing::AssertionSuccess();
    std::this_thread::sleep_for(interval);
  }
  if (condition()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "timed out after " << deadline.count() << " ms waiting for: " << what;
}

}  // namespace faultline::testing
