# A man page per program, generated at build time from its own --help (help2man), so the pages
# never drift from the options. build/man/ keeps both NAME.1 (to read with man -l) and NAME.1.gz,
# which is what gets installed into share/man/man1: Debian wants man pages compressed, with -n so
# the bytes do not depend on the build time.

find_program(HELP2MAN_EXECUTABLE help2man)
if(NOT HELP2MAN_EXECUTABLE)
    roompush_missing("help2man" "help2man")
endif()
find_program(GZIP_EXECUTABLE gzip REQUIRED)

function(roompush_man_page target description)
    set(page ${CMAKE_BINARY_DIR}/man/${target}.1)
    add_custom_command(
        OUTPUT ${page} ${page}.gz
        COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
        # Defaults that depend on the environment must show their production values.
        COMMAND ${CMAKE_COMMAND} -E env --unset=ROOMPUSH_RUN_DIR --unset=ROOMPUSH_CONTROL
                ${HELP2MAN_EXECUTABLE} --no-info --no-discard-stderr
                --name=${description} --version-string=${PROJECT_VERSION}
                --output=${page} $<TARGET_FILE:${target}>
        COMMAND ${GZIP_EXECUTABLE} -n -9 -k -f ${page}
        DEPENDS ${target}
        COMMENT "Man page for ${target}"
        VERBATIM)
    add_custom_target(${target}-man ALL DEPENDS ${page}.gz)
    install(FILES ${page}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endfunction()
