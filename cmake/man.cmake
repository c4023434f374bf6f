# Man pages from the programs' own --help (help2man): faultline.1, one
# faultline-<command>.1 per subcommand, swarm.1. Not part of the default
# build: `cmake --build build --target man` (./dev.sh package builds it);
# `cmake --install` installs whatever it built. Without help2man (Debian
# package help2man) the target fails saying so; nothing else needs it.
find_program(FAULTLINE_HELP2MAN help2man)
set(FAULTLINE_MAN_DIR ${PROJECT_BINARY_DIR}/man)
set(FAULTLINE_SUBCOMMANDS run replay explore diff validate report list sink)
if(FAULTLINE_HELP2MAN)
  set(pages ${FAULTLINE_MAN_DIR}/faultline.1 ${FAULTLINE_MAN_DIR}/swarm.1)
  set(commands
    COMMAND ${FAULTLINE_HELP2MAN} --no-info --no-discard-stderr --section 1
            --name "fault injection and deterministic simulation for work-coordination systems"
            --output ${FAULTLINE_MAN_DIR}/faultline.1 $<TARGET_FILE:faultline>
    COMMAND ${FAULTLINE_HELP2MAN} --no-info --no-discard-stderr --section 1
            --name "the reference work coordinator of faultline"
            --output ${FAULTLINE_MAN_DIR}/swarm.1 $<TARGET_FILE:swarm>)
  foreach(sub IN LISTS FAULTLINE_SUBCOMMANDS)
    list(APPEND pages ${FAULTLINE_MAN_DIR}/faultline-${sub}.1)
    # help2man runs PROGRAM --help and --version: a wrapper makes the
    # subcommand look like a program of its own.
    list(APPEND commands
      COMMAND ${FAULTLINE_HELP2MAN} --no-info --no-discard-stderr --section 1
              --name "faultline ${sub}"
              --output ${FAULTLINE_MAN_DIR}/faultline-${sub}.1
              "${PROJECT_SOURCE_DIR}/cmake/help2man_subcommand.sh $<TARGET_FILE:faultline> ${sub}")
  endforeach()
  add_custom_command(OUTPUT ${pages}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${FAULTLINE_MAN_DIR}
    ${commands}
    DEPENDS faultline swarm ${PROJECT_SOURCE_DIR}/cmake/help2man_subcommand.sh
    COMMENT "Generating man pages with help2man"
    VERBATIM)
  add_custom_target(man DEPENDS ${pages})
else()
  add_custom_target(man
    COMMAND ${CMAKE_COMMAND} -E echo
            "man: help2man not found; install the Debian package help2man (./dev.sh deps) and reconfigure"
    COMMAND ${CMAKE_COMMAND} -E false
    VERBATIM)
endif()
install(DIRECTORY ${FAULTLINE_MAN_DIR}/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
        OPTIONAL FILES_MATCHING PATTERN "*.1")
