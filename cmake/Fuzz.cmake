# libFuzzer targets, one per parser that reads outside input (ROOMPUSH_FUZZ=ON, clang only).
# `./dev fuzz` builds them in build-fuzz and CTest runs each for a bounded time (label `fuzz`);
# a crash or a sanitizer report fails the run and leaves the input in build-fuzz/fuzz-findings.

set(ROOMPUSH_FUZZ_SECONDS 20 CACHE STRING "Seconds each fuzz target runs under ctest")
add_custom_target(fuzzers)

function(roompush_fuzz_target name source)
    add_executable(${name} ${source})
    get_filename_component(source_dir ${source} DIRECTORY)
    target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/${source_dir})
    target_link_libraries(${name} PRIVATE ${ARGN})
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    set(findings ${CMAKE_BINARY_DIR}/fuzz-findings/${name})
    file(MAKE_DIRECTORY ${findings} ${CMAKE_BINARY_DIR}/fuzz-corpus/${name})
    add_test(NAME fuzz.${name}
        COMMAND ${name} -max_total_time=${ROOMPUSH_FUZZ_SECONDS} -max_len=65536 -rss_limit_mb=2048
                -artifact_prefix=${findings}/ ${CMAKE_BINARY_DIR}/fuzz-corpus/${name})
    set_tests_properties(fuzz.${name} PROPERTIES LABELS fuzz TIMEOUT 600)
    add_dependencies(fuzzers ${name})
endfunction()

roompush_fuzz_target(control_codec_fuzz common/src/control_codec_fuzz.cpp roompush-common)
roompush_fuzz_target(publish_scan_fuzz common/src/publish_scan_fuzz.cpp roompush-common)
roompush_fuzz_target(room_token_fuzz common/src/room_token_fuzz.cpp roompush-common)
roompush_fuzz_target(utf8_fuzz common/src/utf8_fuzz.cpp roompush-common)
roompush_fuzz_target(ws_codec_fuzz ws-sidecar/ws_codec_fuzz.cpp roompush-sidecar-engine)
roompush_fuzz_target(redis_wire_fuzz ws-sidecar/broker/redis_wire_fuzz.cpp roompush-sidecar-engine)
roompush_fuzz_target(multipart_parser_fuzz fcgi-app/multipart_parser_fuzz.cpp roompush-fcgi-engine)
roompush_fuzz_target(stl_reader_fuzz examples/cad-inspect/stl_reader_fuzz.cpp cad-inspect-engine)
