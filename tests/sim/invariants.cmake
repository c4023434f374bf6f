# Unit tests of the invariant checkers over hand-built histories
# (checker_history.h), one file per group of checkers.
# Included from tests/sim/CMakeLists.txt.
add_executable(invariants_test
  ${CMAKE_CURRENT_LIST_DIR}/invariants_grants_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/invariants_work_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/invariants_state_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/invariants_agents_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/invariants_rates_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/invariants_registry_test.cc)
target_link_libraries(invariants_test PRIVATE faultline_invariants GTest::gtest GTest::gtest_main)
gtest_discover_tests(invariants_test PROPERTIES LABELS unit)

# The resource checkers over fixed samples, and the measurement on real processes.
add_executable(resource_invariants_test ${CMAKE_CURRENT_LIST_DIR}/resource_invariants_test.cc)
target_link_libraries(resource_invariants_test PRIVATE faultline_invariants faultline_sim
                      GTest::gtest GTest::gtest_main)
gtest_discover_tests(resource_invariants_test PROPERTIES LABELS unit)
# skill_match, and unservable items in no_lost_work and progress.
add_executable(skill_match_test ${CMAKE_CURRENT_LIST_DIR}/skill_match_test.cc)
target_link_libraries(skill_match_test PRIVATE faultline_invariants GTest::gtest GTest::gtest_main)
gtest_discover_tests(skill_match_test PROPERTIES LABELS unit)
# honest_outcome: dead letters by failed grants, recorded effects end done.
add_executable(honest_outcome_test ${CMAKE_CURRENT_LIST_DIR}/honest_outcome_test.cc)
target_link_libraries(honest_outcome_test PRIVATE faultline_invariants GTest::gtest GTest::gtest_main)
gtest_discover_tests(honest_outcome_test PROPERTIES LABELS unit)

# no_lost_submission: work arriving during a run is neither lost nor invented.
add_executable(no_lost_submission_test ${CMAKE_CURRENT_LIST_DIR}/no_lost_submission_test.cc)
target_link_libraries(no_lost_submission_test PRIVATE faultline_invariants GTest::gtest
                      GTest::gtest_main)
gtest_discover_tests(no_lost_submission_test PROPERTIES LABELS unit)
# no_acknowledged_loss: completions acknowledged before a power loss survive it.
add_executable(no_acknowledged_loss_test ${CMAKE_CURRENT_LIST_DIR}/no_acknowledged_loss_test.cc)
target_link_libraries(no_acknowledged_loss_test PRIVATE faultline_invariants GTest::gtest
                      GTest::gtest_main)
gtest_discover_tests(no_acknowledged_loss_test PROPERTIES LABELS unit)
# reconnects_after_partition, and a partition as a stall in eventual_lock_release.
add_executable(reconnects_after_partition_test
               ${CMAKE_CURRENT_LIST_DIR}/reconnects_after_partition_test.cc)
target_link_libraries(reconnects_after_partition_test PRIVATE faultline_invariants GTest::gtest
                      GTest::gtest_main)
gtest_discover_tests(reconnects_after_partition_test PROPERTIES LABELS unit)
