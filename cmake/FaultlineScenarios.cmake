# faultline_add_scenarios(DIR [SEEDS n] [SUT file] [LABELS label...] [PREFIX p]
#                         [ARGS arg...] [TIMEOUT seconds])
#
# Registers every scenario of DIR (each *.json but the fmea.json catalogue)
# as a CTest test, in the spirit of gtest_discover_tests: test PREFIX<name>
# (PREFIX defaults to "faultline.") runs
#
#   faultline run FILE --seeds n --first-index k --require-landed
#                 --out <build>/faultline-runs --junit <build>/faultline-runs/junit/<name>.xml
#                 [--sut file] [ARGS...]
#
# (SEEDS default 1: the scenario's own seed). The tests are labelled
# "faultline", with the failure modes each scenario gives evidence for (its
# "fmea" list and DIR/fmea.json's modes naming it) and with LABELS, so that
# `ctest -L worker-crash` picks a failure mode.
#
# Sharding: the tests honour the sharding variables faultline reads
# (GTEST_SHARD_INDEX/GTEST_TOTAL_SHARDS, GitLab's CI_NODE_INDEX/CI_NODE_TOTAL,
# a Kubernetes Indexed Job's JOB_COMPLETION_INDEX/JOB_COMPLETIONS; docs/ci.md):
# every test knows the index k of its first run in the project's whole suite
# (the calls in order, in each the scenarios in name order x seeds), so that
# the suite is split as one, and a test with no run in this shard reports
# itself skipped.
#
# The scenarios are read at configure time (with `faultline list scenarios
# --json`); adding or editing one re-runs the configuration. `faultline
# report <build>/faultline-runs --out report` turns the runs into the FMEA
# evidence report.
function(faultline_add_scenarios dir)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "SEEDS;SUT;PREFIX;TIMEOUT" "LABELS;ARGS")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "faultline_add_scenarios: unexpected arguments ${arg_UNPARSED_ARGUMENTS}; "
                        "expected DIR [SEEDS n] [SUT file] [LABELS ...] [PREFIX p] [ARGS ...] "
                        "[TIMEOUT s]")
  endif()
  if(NOT DEFINED arg_SEEDS)
    set(arg_SEEDS 1)
  endif()
  if(NOT arg_SEEDS MATCHES "^[1-9][0-9]*$")
    message(FATAL_ERROR "faultline_add_scenarios: SEEDS is \"${arg_SEEDS}\"; expected a count >= 1")
  endif()
  if(NOT DEFINED arg_PREFIX)
    set(arg_PREFIX "faultline.")
  endif()
  if(NOT DEFINED arg_TIMEOUT)
    set(arg_TIMEOUT 600)
  endif()
  get_filename_component(dir "${dir}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  if(NOT IS_DIRECTORY "${dir}")
    message(FATAL_ERROR "faultline_add_scenarios: ${dir} is not a directory of scenarios")
  endif()
  set(sut_args "")
  if(arg_SUT)
    get_filename_component(sut "${arg_SUT}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    set(sut_args --sut "${sut}")
  endif()

  # The faultline program: FAULTLINE_EXECUTABLE if set, else the imported one.
  set(exe "${FAULTLINE_EXECUTABLE}")
  if(NOT exe)
    get_target_property(configs faultline::faultline IMPORTED_CONFIGURATIONS)
    list(GET configs 0 config)
    get_target_property(exe faultline::faultline IMPORTED_LOCATION_${config})
  endif()

  # Re-configure when a scenario is added, removed or edited.
  file(GLOB files CONFIGURE_DEPENDS "${dir}/*.json")
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${files})
  execute_process(COMMAND "${exe}" list scenarios --dir "${dir}" --json
                  OUTPUT_VARIABLE listing ERROR_VARIABLE errors RESULT_VARIABLE status)
  if(listing STREQUAL "")
    message(FATAL_ERROR "faultline_add_scenarios: `${exe} list scenarios --dir ${dir} --json` "
                        "failed (${status}): ${errors}")
  endif()

  set(out "${CMAKE_CURRENT_BINARY_DIR}/faultline-runs")
  string(JSON count LENGTH "${listing}")
  # The suite is every call's runs in call order: its next index is global.
  get_property(first GLOBAL PROPERTY FAULTLINE_NEXT_RUN_INDEX)
  if(NOT first)
    set(first 0)
  endif()
  if(count GREATER 0)
    math(EXPR last "${count} - 1")
    foreach(i RANGE ${last})
      string(JSON file GET "${listing}" ${i} file)
      string(JSON error ERROR_VARIABLE no_error GET "${listing}" ${i} error)
      if(NOT no_error)
        message(FATAL_ERROR "faultline_add_scenarios: ${error}")
      endif()
      get_filename_component(stem "${file}" NAME_WE)
      set(labels faultline ${arg_LABELS})
      string(JSON modes GET "${listing}" ${i} fmea)
      string(JSON n_modes LENGTH "${modes}")
      if(n_modes GREATER 0)
        math(EXPR last_mode "${n_modes} - 1")
        foreach(m RANGE ${last_mode})
          string(JSON mode GET "${modes}" ${m})
          list(APPEND labels "${mode}")
        endforeach()
      endif()
      set(name "${arg_PREFIX}${stem}")
      add_test(NAME "${name}"
               COMMAND "${exe}" run "${file}" --seeds ${arg_SEEDS} --first-index ${first}
                       --require-landed --out "${out}" --junit "${out}/junit/${stem}.xml"
                       ${sut_args} ${arg_ARGS})
      set_tests_properties("${name}" PROPERTIES
        LABELS "${labels}" TIMEOUT ${arg_TIMEOUT}
        SKIP_REGULAR_EXPRESSION "faultline run: shard [0-9]+/[0-9]+: 0 of ")
      math(EXPR first "${first} + ${arg_SEEDS}")
    endforeach()
  endif()
  set_property(GLOBAL PROPERTY FAULTLINE_NEXT_RUN_INDEX ${first})
  file(MAKE_DIRECTORY "${out}/junit")
endfunction()
