# `cmake --install`, the CMake package and the .deb (`./dev.sh package`).
# Layout (GNUInstallDirs; the binaries find the rest relative to themselves,
# base/install_layout.h):
#   bin/                               faultline, swarm
#   libexec/faultline/                 faultline-adapter
#   lib/faultline/                     the LD_PRELOAD libraries (io_error, interposition)
#   include/faultline/                 the control protocol's headers
#   lib/cmake/faultline/               find_package(faultline), faultline_add_scenarios()
#   share/faultline/scenarios/         the bundled scenarios and the fmea.json catalogue
#   share/doc/faultline/               README.md and docs/ (with the CI recipes)
#   share/man/man1/                    faultline.1, faultline-<command>.1, swarm.1 (`man` target)
#   share/bash-completion/completions/ faultline
include(CMakePackageConfigHelpers)

set(FAULTLINE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/faultline)

# The control protocol's C header as a target: #include <faultline/faultline_agent.h>.
add_library(faultline_agent INTERFACE)
add_library(faultline::agent ALIAS faultline_agent)
set_target_properties(faultline_agent PROPERTIES EXPORT_NAME agent)
target_include_directories(faultline_agent INTERFACE
  $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/include>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
foreach(header faultline_agent.h control_protocol.h)
  configure_file(${PROJECT_SOURCE_DIR}/sim/protocol/${header}
                 ${PROJECT_BINARY_DIR}/include/faultline/${header} COPYONLY)
endforeach()

install(TARGETS faultline swarm EXPORT faultlineTargets
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS faultline-adapter RUNTIME DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/faultline)
install(TARGETS faultline_ioerr faultline_interpose faultline_wallclock
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/faultline)
install(TARGETS faultline_agent EXPORT faultlineTargets)
install(FILES sim/protocol/faultline_agent.h sim/protocol/control_protocol.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/faultline)
install(DIRECTORY scenarios/ DESTINATION ${CMAKE_INSTALL_DATADIR}/faultline/scenarios)
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES cli/completion.bash DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
        RENAME faultline)

# The package: imported targets faultline::faultline, faultline::swarm,
# faultline::agent, and faultline_add_scenarios().
install(EXPORT faultlineTargets NAMESPACE faultline:: DESTINATION ${FAULTLINE_CMAKE_DIR})
configure_package_config_file(cmake/faultlineConfig.cmake.in
  ${PROJECT_BINARY_DIR}/faultlineConfig.cmake INSTALL_DESTINATION ${FAULTLINE_CMAKE_DIR}
  PATH_VARS CMAKE_INSTALL_DATADIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/faultlineConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/faultlineConfig.cmake
              ${PROJECT_BINARY_DIR}/faultlineConfigVersion.cmake
              cmake/FaultlineScenarios.cmake
        DESTINATION ${FAULTLINE_CMAKE_DIR})

include(cmake/man.cmake)

# .deb: `./dev.sh package` (configures with CMAKE_INSTALL_PREFIX=/usr).
set(CPACK_PACKAGE_NAME faultline)
set(CPACK_PACKAGE_VENDOR "faultline")
set(CPACK_PACKAGE_CONTACT "faultline maintainers <faultline@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "fault injection and deterministic simulation for work-coordination systems")
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# swarm loads libpq at its first PostgreSQL connection (coordinator/pq_lazy.h),
# so dpkg-shlibdeps cannot see it; the server itself is the user's choice.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libpq5")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "postgresql-15")
set(CPACK_STRIP_FILES ON)
include(CPack)
