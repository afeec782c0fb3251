# A man page per program, generated at build time from its own --help (help2man), so the pages
# never drift from the options. Installed into share/man/man1.

find_program(HELP2MAN_EXECUTABLE help2man)
if(NOT HELP2MAN_EXECUTABLE)
    roompush_missing("help2man" "help2man")
endif()

function(roompush_man_page target description)
    set(page ${CMAKE_BINARY_DIR}/man/${target}.1)
    add_custom_command(
        OUTPUT ${page}
        COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
        # Defaults that depend on the environment must show their production values.
        COMMAND ${CMAKE_COMMAND} -E env --unset=ROOMPUSH_RUN_DIR --unset=ROOMPUSH_CONTROL
                ${HELP2MAN_EXECUTABLE} --no-info --no-discard-stderr
                --name=${description} --version-string=${PROJECT_VERSION}
                --output=${page} $<TARGET_FILE:${target}>
        DEPENDS ${target}
        COMMENT "Man page for ${target}"
        VERBATIM)
    add_custom_target(${target}-man ALL DEPENDS ${page})
    install(FILES ${page} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endfunction()
