# Qualification of faultline explore against the mutant zoo: one CTest per
# mutant (mutants_qualification_<name>: caught, shrunk, reproduced, and the
# reference coordinator passing its family over 200 drawn scenarios), plus a
# check that every listed mutant has an expectation. CTest spreads them over
# the cores. FAULTLINE_QUALIFY_LONG=1 runs the long budget.
# Included from tests/mutants/CMakeLists.txt.
add_executable(qualification_test ${CMAKE_CURRENT_LIST_DIR}/qualification_test.cc)
target_link_libraries(qualification_test PRIVATE faultline_test_support
                      nlohmann_json::nlohmann_json GTest::gtest GTest::gtest_main)
target_compile_definitions(qualification_test PRIVATE
  FAULTLINE_BIN="$<TARGET_FILE:faultline>"
  SWARM_BIN="$<TARGET_FILE:swarm>"
  SWARM_MUTANT_BIN="$<TARGET_FILE:swarm_mutant>"
  MUTANT_SCENARIO_DIR="${CMAKE_CURRENT_LIST_DIR}/scenarios"
  FAULTLINE_MUTANTS_LIST="${faultline_mutants_words}")
add_dependencies(qualification_test faultline swarm swarm_mutant)
foreach(mutant ${FAULTLINE_MUTANTS})
  add_test(NAME mutants_qualification_${mutant}
           COMMAND qualification_test
                   --gtest_filter=Zoo/QualificationTest.*/${mutant}:QualificationListTest.*)
  set_tests_properties(mutants_qualification_${mutant} PROPERTIES
                       LABELS "e2e;mutants;qualification" TIMEOUT 900)
endforeach()
add_test(NAME mutants_qualification_list
         COMMAND qualification_test --gtest_filter=QualificationListTest.*)
set_tests_properties(mutants_qualification_list PROPERTIES
                     LABELS "e2e;mutants;qualification" TIMEOUT 120)
