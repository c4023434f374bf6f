# ProcessSet (sim/process_set.h) against real processes: spawning, what a
# child inherits, exit decoding, and that no child outlives the set or a
# SIGKILLed harness. include()d from tests/sim/CMakeLists.txt.
add_executable(process_set_test ${CMAKE_CURRENT_LIST_DIR}/process_set_test.cc)
target_link_libraries(process_set_test PRIVATE faultline_sim faultline_test_support
                      GTest::gtest_main)
gtest_discover_tests(process_set_test PROPERTIES LABELS unit TIMEOUT 60)
