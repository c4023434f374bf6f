# Tests of explore and shrink (sim/explore.h) with a fake runner, plus the
# round trip of minimal.json through the real faultline binary.
# Included from tests/sim/CMakeLists.txt.
add_executable(explore_test ${CMAKE_CURRENT_LIST_DIR}/explore_test.cc)
target_link_libraries(explore_test PRIVATE faultline_explore faultline_faults faultline_invariants
                      faultline_sut faultline_test_support GTest::gtest GTest::gtest_main)
target_compile_definitions(explore_test PRIVATE FAULTLINE_BIN="$<TARGET_FILE:faultline>")
add_dependencies(explore_test faultline swarm)
gtest_discover_tests(explore_test PROPERTIES LABELS "unit" TIMEOUT 300)
