# Unit tests of the invariant checkers over hand-built histories.
# Included from tests/sim/CMakeLists.txt.
add_executable(invariants_test ${CMAKE_CURRENT_LIST_DIR}/invariants_test.cc)
target_link_libraries(invariants_test PRIVATE faultline_invariants GTest::gtest GTest::gtest_main)
gtest_discover_tests(invariants_test PROPERTIES LABELS unit)
