# The six core checkers over a synthetic 1,000,000-event history, and parsing
# that many trace lines. Included from bench/CMakeLists.txt.
add_executable(checkers_bench ${CMAKE_CURRENT_LIST_DIR}/checkers_bench.cc)
target_link_libraries(checkers_bench PRIVATE faultline_invariants benchmark::benchmark)
