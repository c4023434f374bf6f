# ProcessSet (sim/process_set.h) against real processes: spawning, what a
# child inherits, exit decoding, and that no child outlives the set or a
# SIGKILLed harness. include()d from tests/sim/CMakeLists.txt.
add_executable(process_set_test ${CMAKE_CURRENT_LIST_DIR}/process_set_test.cc)
target_link_libraries(process_set_test PRIVATE faultline_sim faultline_test_support
                      GTest::gtest_main)
gtest_discover_tests(process_set_test PROPERTIES LABELS unit TIMEOUT 60)

# Containment of a run (sim/run_containment.h): in process, and end to end
# with faultline SIGKILLed at random times (tests/containment_kills.sh runs
# the latter 100 times).
add_executable(containment_test ${CMAKE_CURRENT_LIST_DIR}/containment_test.cc)
target_link_libraries(containment_test PRIVATE faultline_sim faultline_test_support
                      GTest::gtest_main)
gtest_discover_tests(containment_test PROPERTIES LABELS unit TIMEOUT 120)
add_executable(containment_cli_test ${CMAKE_CURRENT_LIST_DIR}/containment_cli_test.cc)
target_link_libraries(containment_cli_test PRIVATE faultline_test_support
                      nlohmann_json::nlohmann_json GTest::gtest_main)
target_compile_definitions(containment_cli_test PRIVATE
  FAULTLINE_BIN="$<TARGET_FILE:faultline>"
  SCENARIO_DIR="${PROJECT_SOURCE_DIR}/scenarios"
  SUT_DIR="${PROJECT_SOURCE_DIR}/tests/sut")
add_dependencies(containment_cli_test faultline swarm faultline-adapter)
gtest_discover_tests(containment_cli_test PROPERTIES LABELS e2e TIMEOUT 600)
