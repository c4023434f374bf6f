# Unit tests of the invariant checkers over hand-built histories.
# Included from tests/sim/CMakeLists.txt.
add_executable(invariants_test ${CMAKE_CURRENT_LIST_DIR}/invariants_test.cc)
target_link_libraries(invariants_test PRIVATE faultline_invariants GTest::gtest GTest::gtest_main)
gtest_discover_tests(invariants_test PROPERTIES LABELS unit)

# The resource checkers over fixed samples, and the measurement on real processes.
add_executable(resource_invariants_test ${CMAKE_CURRENT_LIST_DIR}/resource_invariants_test.cc)
target_link_libraries(resource_invariants_test PRIVATE faultline_invariants faultline_sim
                      GTest::gtest GTest::gtest_main)
gtest_discover_tests(resource_invariants_test PROPERTIES LABELS unit)
