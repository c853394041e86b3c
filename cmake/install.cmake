# libniobium-client (static and shared) from the client modules, and `make install`: the
# `niobium` command, the headers an application of the client library includes, both libraries
# and the pkg-config file niobium-client.pc. PREFIX comes from CMAKE_INSTALL_PREFIX (the
# Makefile's PREFIX, default /usr/local); DESTDIR is honoured by `cmake --install`.
include(GNUInstallDirs)

option(NB_SHARED_LIB "Build and install libniobium-client.so too (OFF: the static library only)" ON)
# With the shared library the client modules are position-independent so that the same objects
# make it; gcc may still inline and bind calls within the library as it does in an executable.
if(NB_SHARED_LIB)
  foreach(m ${NB_CLIENT_MODULES})
    set_target_properties(${m} PROPERTIES POSITION_INDEPENDENT_CODE ON)
    target_compile_options(${m} PRIVATE $<$<C_COMPILER_ID:GNU>:-fno-semantic-interposition>)
  endforeach()
endif()

# What the library needs at link time, and how pkg-config says so: gnutls is public (the header
# dtls/session.h, included by niobium/client.h with DTLS, includes it), the rest private.
set(nb_client_deps m)
set(nb_pc_requires "")
set(nb_pc_requires_private "")
if(NB_WITH_DTLS)
  list(APPEND nb_client_deps PkgConfig::GNUTLS PkgConfig::NETTLE)
  set(nb_pc_requires "gnutls")
  list(APPEND nb_pc_requires_private nettle)
endif()
if(NB_NEED_LIBCBOR)
  list(APPEND nb_client_deps PkgConfig::CBOR)
  list(APPEND nb_pc_requires_private libcbor)
endif()
if(NB_WITH_FMT_SENML_JSON OR NB_WITH_FMT_LWM2M_JSON OR NB_WITH_FACTORY)
  list(APPEND nb_client_deps PkgConfig::JANSSON)
  list(APPEND nb_pc_requires_private jansson)
endif()
list(JOIN nb_pc_requires_private " " nb_pc_requires_private)

set(nb_client_objects "")
foreach(m ${NB_CLIENT_MODULES})
  list(APPEND nb_client_objects $<TARGET_OBJECTS:${m}>)
endforeach()
add_library(niobium-client-static STATIC ${nb_client_objects})
set_target_properties(niobium-client-static PROPERTIES OUTPUT_NAME niobium-client)
set(nb_client_targets niobium-client-static)
if(NB_SHARED_LIB)
  add_library(niobium-client SHARED ${nb_client_objects})
  set_target_properties(niobium-client PROPERTIES VERSION ${PROJECT_VERSION}
                                                  SOVERSION ${PROJECT_VERSION_MAJOR})
  target_link_libraries(niobium-client PRIVATE ${nb_client_deps})
  # Every symbol resolved when the library is made (the sanitizers' runtime is the program's).
  target_link_options(niobium-client PRIVATE $<$<NOT:$<CONFIG:Asan>>:LINKER:--no-undefined>)
  list(APPEND nb_client_targets niobium-client)
endif()

# Headers: include/niobium/ and the module headers they include, under PREFIX/include/niobium
# so that `#include "niobium/client.h"` finds "base/err.h" beside it (-I PREFIX/include/niobium).
set(nb_inc ${CMAKE_INSTALL_INCLUDEDIR}/niobium)
install(FILES ${CMAKE_BINARY_DIR}/include/niobium/config.h DESTINATION ${nb_inc}/niobium)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/niobium/ DESTINATION ${nb_inc}/niobium
        FILES_MATCHING PATTERN "*.h")
set(nb_header_dirs base coap lwm2m)
if(NB_WITH_DTLS)
  list(APPEND nb_header_dirs dtls)
endif()
foreach(d ${nb_header_dirs})
  install(DIRECTORY ${CMAKE_SOURCE_DIR}/src/${d}/ DESTINATION ${nb_inc}/${d}
          FILES_MATCHING PATTERN "*.h" PATTERN "ddf" EXCLUDE)
endforeach()
install(TARGETS ${nb_client_targets}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
# The .pc file finds the prefix from where it lies, so it is right for any `--prefix` and DESTDIR
# the install is given (pkg-config's ${pcfiledir}).
file(RELATIVE_PATH nb_pc_to_prefix /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
string(REGEX REPLACE "/$" "" nb_pc_to_prefix "${nb_pc_to_prefix}")
configure_file(${CMAKE_SOURCE_DIR}/cmake/niobium-client.pc.in
               ${CMAKE_BINARY_DIR}/niobium-client.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/niobium-client.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
