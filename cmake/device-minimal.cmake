# The tiny device (issue 15, docs/client.md "The device build"): a cache script for
#   cmake -S . -B build/device -C cmake/device-minimal.cmake && cmake --build build/device
# Only the client library and examples/minimal-device, which registers with one server over
# NoSec and serves objects 0/1/3/3303 (2, Access Control, is made by every client engine).
# Content formats: text/plain, octet-stream, link-format and SenML CBOR (what a server asks a
# LwM2M 1.1 device for), the CBOR read by the built-in item reader; errors only in the log.
set(NB_DEVICE_ONLY ON CACHE BOOL "")
set(NB_WITH_DTLS OFF CACHE BOOL "")
set(NB_WITH_SIGNED OFF CACHE BOOL "")
set(NB_WITH_BOOTSTRAP OFF CACHE BOOL "")
set(NB_WITH_FACTORY OFF CACHE BOOL "")
set(NB_WITH_FMT_TEXT ON CACHE BOOL "")
set(NB_WITH_FMT_OPAQUE ON CACHE BOOL "")
set(NB_WITH_FMT_CBOR OFF CACHE BOOL "")
set(NB_WITH_FMT_SENML_JSON OFF CACHE BOOL "")
set(NB_WITH_FMT_SENML_CBOR ON CACHE BOOL "")
set(NB_WITH_FMT_TLV OFF CACHE BOOL "")
set(NB_WITH_FMT_LWM2M_JSON OFF CACHE BOOL "")
set(NB_WITH_FMT_LWM2M_CBOR OFF CACHE BOOL "")
set(NB_WITH_LIBCBOR OFF CACHE BOOL "")
set(NB_WITH_ERROR_TEXT OFF CACHE BOOL "")
set(NB_WITH_DEF_NAMES OFF CACHE BOOL "")
set(NB_OBJECTS "0;1;2;3;3303" CACHE STRING "")
set(NB_LOG_LEVEL "error" CACHE STRING "")
# The goal's flags (issue 15): -Os, each function and object in its own section, unused ones
# dropped at link time; and no unwind tables (.eh_frame), which C on a device does not use
# (bench/README.md gives the figure with and without them, and Wakaama's alike).
set(CMAKE_BUILD_TYPE MinSizeRel CACHE STRING "")
set(CMAKE_C_FLAGS "-ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -fno-unwind-tables"
    CACHE STRING "")
set(CMAKE_EXE_LINKER_FLAGS "-Wl,--gc-sections" CACHE STRING "")
