# Feature switches of the client library (docs/client.md, "The device build"). Each becomes an
# NB_CFG_* macro in the generated header niobium/config.h, which every module includes through
# base/err.h, and decides which sources are compiled. The defaults build everything, as before
# the switches existed; cmake/device-minimal.cmake is the preset of the tiny device.

option(NB_DEVICE_ONLY "Build only the client library (libniobium-client) and the example device" OFF)
option(NB_WITH_DTLS "DTLS 1.2 (GnuTLS): coaps:// accounts" ON)
option(NB_WITH_SIGNED "Signed payloads (COSE_Sign1, Content-Format 18); needs DTLS and SenML CBOR" ON)
option(NB_WITH_BOOTSTRAP "Client bootstrap: Bootstrap-Request and the bootstrap server's operations" ON)
option(NB_WITH_FACTORY "JSON factory-bootstrap files (nb_client_load_factory; jansson)" ON)
option(NB_WITH_FMT_TEXT "Content-Format text/plain (0)" ON)
option(NB_WITH_FMT_OPAQUE "Content-Format application/octet-stream (42)" ON)
option(NB_WITH_FMT_CBOR "Content-Format application/cbor (60), single values" ON)
option(NB_WITH_FMT_SENML_JSON "Content-Format SenML JSON (110; jansson)" ON)
option(NB_WITH_FMT_SENML_CBOR "Content-Format SenML CBOR (112); also the state file and Send" ON)
option(NB_WITH_FMT_TLV "Content-Format LwM2M TLV (11542)" ON)
option(NB_WITH_FMT_LWM2M_JSON "Content-Format LwM2M JSON (11543; jansson)" ON)
option(NB_WITH_FMT_LWM2M_CBOR "Content-Format LwM2M CBOR (11544, LwM2M 1.2)" ON)
option(NB_WITH_LIBCBOR "Read CBOR with libcbor's streaming decoder (OFF: the built-in item reader)" ON)
option(NB_WITH_ERROR_TEXT "Messages of nb_strerror (OFF: every error reads as its name)" ON)
option(NB_WITH_DEF_NAMES "Names of built-in objects and resources (OFF: names are empty)" ON)
set(NB_OBJECTS "all" CACHE STRING
    "Built-in object definitions compiled in: all, or a list of object IDs such as 0;1;2;3;3303")
set(NB_LOG_LEVEL "debug" CACHE STRING
    "Most verbose log level compiled in: none, error, warn, info or debug")
set_property(CACHE NB_LOG_LEVEL PROPERTY STRINGS none error warn info debug)

if(NB_WITH_SIGNED AND NOT (NB_WITH_DTLS AND NB_WITH_FMT_SENML_CBOR))
  message(FATAL_ERROR "NB_WITH_SIGNED needs NB_WITH_DTLS and NB_WITH_FMT_SENML_CBOR")
endif()
if(NOT NB_DEVICE_ONLY)
  # The server, bootstrap server, monitor and tools use every format, DTLS and the names.
  foreach(opt NB_WITH_DTLS NB_WITH_SIGNED NB_WITH_BOOTSTRAP NB_WITH_FACTORY NB_WITH_FMT_TEXT
              NB_WITH_FMT_OPAQUE NB_WITH_FMT_CBOR NB_WITH_FMT_SENML_JSON NB_WITH_FMT_SENML_CBOR
              NB_WITH_FMT_TLV NB_WITH_FMT_LWM2M_JSON NB_WITH_FMT_LWM2M_CBOR NB_WITH_DEF_NAMES)
    if(NOT ${opt})
      message(FATAL_ERROR "${opt}=OFF needs NB_DEVICE_ONLY=ON (the full build uses it)")
    endif()
  endforeach()
  if(NOT NB_OBJECTS STREQUAL "all")
    message(FATAL_ERROR "NB_OBJECTS other than 'all' needs NB_DEVICE_ONLY=ON")
  endif()
endif()
foreach(id 0 1 2)
  if(NOT NB_OBJECTS STREQUAL "all" AND NOT id IN_LIST NB_OBJECTS)
    message(FATAL_ERROR "NB_OBJECTS must hold 0, 1 and 2: the client engine makes them")
  endif()
endforeach()

set(nb_log_levels none error warn info debug)
list(FIND nb_log_levels "${NB_LOG_LEVEL}" NB_CFG_LOG_MAX)
if(NB_CFG_LOG_MAX LESS 0)
  message(FATAL_ERROR "NB_LOG_LEVEL must be none, error, warn, info or debug")
endif()
math(EXPR NB_CFG_LOG_MAX "${NB_CFG_LOG_MAX} - 1") # -1 none, 0 error ... 3 debug

# One macro per compiled-in object: NB_CFG_OBJ_3303 1.
set(NB_CFG_OBJECT_LINES "")
if(NB_OBJECTS STREQUAL "all")
  set(NB_CFG_OBJECTS_ALL 1)
else()
  set(NB_CFG_OBJECTS_ALL 0)
  foreach(id ${NB_OBJECTS})
    if(NOT id MATCHES "^[0-9]+$")
      message(FATAL_ERROR "NB_OBJECTS: '${id}' is not an object ID")
    endif()
    string(APPEND NB_CFG_OBJECT_LINES "#define NB_CFG_OBJ_${id} 1\n")
  endforeach()
endif()

foreach(opt NB_WITH_DTLS NB_WITH_SIGNED NB_WITH_BOOTSTRAP NB_WITH_FACTORY NB_WITH_FMT_TEXT
            NB_WITH_FMT_OPAQUE NB_WITH_FMT_CBOR NB_WITH_FMT_SENML_JSON NB_WITH_FMT_SENML_CBOR
            NB_WITH_FMT_TLV NB_WITH_FMT_LWM2M_JSON NB_WITH_FMT_LWM2M_CBOR NB_WITH_LIBCBOR
            NB_WITH_ERROR_TEXT
            NB_WITH_DEF_NAMES)
  if(${opt})
    set(${opt}_01 1)
  else()
    set(${opt}_01 0)
  endif()
endforeach()
configure_file(${CMAKE_SOURCE_DIR}/include/niobium/config.h.in
               ${CMAKE_BINARY_DIR}/include/niobium/config.h @ONLY)

# Sources left out by the switches (paths relative to src/).
set(NB_EXCLUDED_SOURCES "")
# Leaves files (paths under src/) out while option opt is `when` (ON or OFF).
macro(nb_exclude opt when)
  if(("${when}" STREQUAL "ON" AND ${opt}) OR ("${when}" STREQUAL "OFF" AND NOT ${opt}))
    foreach(f ${ARGN})
      list(APPEND NB_EXCLUDED_SOURCES ${CMAKE_SOURCE_DIR}/src/${f})
    endforeach()
  endif()
endmacro()
nb_exclude(NB_WITH_DTLS OFF client/transport.c)
nb_exclude(NB_WITH_DTLS ON client/transport_plain.c)
nb_exclude(NB_WITH_FACTORY OFF client/factory.c)
if(NOT NB_WITH_FMT_TEXT AND NOT NB_WITH_FMT_OPAQUE)
  list(APPEND NB_EXCLUDED_SOURCES ${CMAKE_SOURCE_DIR}/src/lwm2m/text.c)
endif()
nb_exclude(NB_WITH_FMT_SENML_JSON OFF lwm2m/senml_json.c)
nb_exclude(NB_WITH_FMT_SENML_CBOR OFF lwm2m/senml_cbor.c)
nb_exclude(NB_WITH_FMT_TLV OFF lwm2m/tlv.c)
nb_exclude(NB_WITH_FMT_LWM2M_JSON OFF lwm2m/lwm2m_json.c)
nb_exclude(NB_WITH_FMT_LWM2M_CBOR OFF lwm2m/lwm2m_cbor.c)
if(NOT NB_WITH_FMT_SENML_JSON AND NOT NB_WITH_FMT_SENML_CBOR)
  list(APPEND NB_EXCLUDED_SOURCES ${CMAKE_SOURCE_DIR}/src/lwm2m/senml.c)
endif()
# SenML CBOR and LwM2M CBOR use cbor_value's numbers.
if(NOT NB_WITH_FMT_CBOR AND NOT NB_WITH_FMT_SENML_CBOR AND NOT NB_WITH_FMT_LWM2M_CBOR)
  list(APPEND NB_EXCLUDED_SOURCES ${CMAKE_SOURCE_DIR}/src/lwm2m/cbor_io.c
       ${CMAKE_SOURCE_DIR}/src/lwm2m/cbor_value.c)
endif()

# What the client library links: jansson only for the JSON formats and factory files, libcbor
# only when it reads CBOR, GnuTLS only with DTLS.
set(NB_NEED_JANSSON OFF)
if(NB_WITH_FMT_SENML_JSON OR NB_WITH_FMT_LWM2M_JSON OR NB_WITH_FACTORY OR NOT NB_DEVICE_ONLY)
  set(NB_NEED_JANSSON ON)
endif()
set(NB_NEED_LIBCBOR OFF)
if(NB_WITH_LIBCBOR OR NOT NB_DEVICE_ONLY)
  set(NB_NEED_LIBCBOR ON)
endif()
