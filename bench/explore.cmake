# faultline explore against the mutant zoo: runs and seconds to the first
# violation, shrink time, minimal size; lockstep exploration against freerun
# stress on the claim race. Needs the zoo (built with the tests).
# Included from bench/CMakeLists.txt.
if(TARGET swarm_mutant)
  add_executable(explore_bench ${CMAKE_CURRENT_LIST_DIR}/explore_bench.cc)
  target_link_libraries(explore_bench PRIVATE faultline_explore faultline_faults
                        faultline_invariants benchmark::benchmark)
  target_include_directories(explore_bench PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_definitions(explore_bench PRIVATE
    SWARM_MUTANT_BIN="$<TARGET_FILE:swarm_mutant>"
    FAULTLINE_BIN="$<TARGET_FILE:faultline>"
    MUTANT_SCENARIO_DIR="${PROJECT_SOURCE_DIR}/tests/mutants/scenarios")
  add_dependencies(explore_bench faultline swarm swarm_mutant)
endif()
