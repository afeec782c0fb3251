# Every third-party library comes from a Debian package. When one is missing, configuration
# stops with the name of the package to install, so nobody has to guess.

function(roompush_missing what package)
    message(FATAL_ERROR
        "roompush: ${what} not found. Install it with: apt-get install ${package} "
        "(or run ./dev up / ./dev test, which install everything missing).")
endfunction()

find_package(PkgConfig QUIET)
if(NOT PkgConfig_FOUND)
    roompush_missing("pkg-config" "pkg-config")
endif()

pkg_check_modules(FCGI QUIET IMPORTED_TARGET fcgi)
if(NOT FCGI_FOUND)
    roompush_missing("libfcgi" "libfcgi-dev")
endif()

pkg_check_modules(LWS QUIET IMPORTED_TARGET libwebsockets)
if(NOT LWS_FOUND)
    roompush_missing("libwebsockets" "libwebsockets-dev")
endif()

# libev has no pkg-config file. The sidecar lends libwebsockets a libev loop (epoll); lws loads
# its libev plugin (package libwebsockets-evlib-ev) at run time, so the build does not need it.
find_path(LIBEV_INCLUDE_DIR ev.h)
find_library(LIBEV_LIBRARY ev)
if(NOT LIBEV_INCLUDE_DIR OR NOT LIBEV_LIBRARY)
    roompush_missing("libev" "libev-dev")
endif()
add_library(LibEv::LibEv UNKNOWN IMPORTED)
set_target_properties(LibEv::LibEv PROPERTIES IMPORTED_LOCATION ${LIBEV_LIBRARY}
                      INTERFACE_INCLUDE_DIRECTORIES ${LIBEV_INCLUDE_DIR})

pkg_check_modules(HIREDIS QUIET IMPORTED_TARGET hiredis)
if(NOT HIREDIS_FOUND)
    roompush_missing("hiredis" "libhiredis-dev")
endif()

pkg_check_modules(SYSTEMD QUIET IMPORTED_TARGET libsystemd)
if(NOT SYSTEMD_FOUND)
    roompush_missing("libsystemd" "libsystemd-dev")
endif()

find_package(cJSON CONFIG QUIET)
if(NOT cJSON_FOUND)
    roompush_missing("cJSON" "libcjson-dev")
endif()

find_package(CLI11 CONFIG QUIET)
if(NOT CLI11_FOUND)
    roompush_missing("CLI11" "libcli11-dev")
endif()

find_package(OpenSSL QUIET)
if(NOT OpenSSL_FOUND)
    roompush_missing("OpenSSL" "libssl-dev")
endif()

# permessage-deflate: the sidecar compresses each message once (message_deflater.h).
find_package(ZLIB QUIET)
if(NOT ZLIB_FOUND)
    roompush_missing("zlib" "zlib1g-dev")
endif()

if(ROOMPUSH_JEMALLOC)
    pkg_check_modules(JEMALLOC QUIET IMPORTED_TARGET jemalloc)
    if(NOT JEMALLOC_FOUND)
        roompush_missing("jemalloc (or configure with -DROOMPUSH_JEMALLOC=OFF)" "libjemalloc-dev")
    endif()
endif()

find_package(Threads REQUIRED)

if(ROOMPUSH_TESTS)
    find_package(GTest QUIET)
    if(NOT GTest_FOUND)
        roompush_missing("GoogleTest" "googletest libgtest-dev")
    endif()
endif()

# A unit test binary beside its source: roompush_unit_test(name src... LIBS lib...)
function(roompush_unit_test name)
    cmake_parse_arguments(UT "" "" "LIBS" ${ARGN})
    add_executable(${name} ${UT_UNPARSED_ARGUMENTS})
    target_link_libraries(${name} PRIVATE ${UT_LIBS} GTest::gtest_main)
    gtest_discover_tests(${name} PROPERTIES LABELS unit DISCOVERY_TIMEOUT 30)
endfunction()
