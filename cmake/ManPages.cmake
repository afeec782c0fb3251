# A man page per program, generated at build time from its own --help (help2man), so the pages
# never drift from the options. build/man/ keeps both NAME.1 (to read with man -l) and NAME.1.gz,
# which is what gets installed into share/man/man1: Debian wants man pages compressed, with -n so
# the bytes do not depend on the build time.
#
# A program with subcommands names a generator in its target property ROOMPUSH_MAN_SUBCOMMANDS
# (cli/CMakeLists.txt: cli/man_subcommands.py). It runs at build time on the built program and
# writes a help2man --include file with each subcommand's usage, options and example, from
# PROGRAM SUB --help; the top-level --help alone names the subcommands and nothing more.

find_program(HELP2MAN_EXECUTABLE help2man)
if(NOT HELP2MAN_EXECUTABLE)
    roompush_missing("help2man" "help2man")
endif()
find_program(GZIP_EXECUTABLE gzip REQUIRED)
find_program(ROOMPUSH_MAN_PYTHON python3)
if(NOT ROOMPUSH_MAN_PYTHON)
    roompush_missing("python3" "python3")
endif()

function(roompush_man_page target description)
    set(page ${CMAKE_BINARY_DIR}/man/${target}.1)
    # Defaults that depend on the environment must show their production values.
    set(production_env ${CMAKE_COMMAND} -E env --unset=ROOMPUSH_RUN_DIR --unset=ROOMPUSH_CONTROL)
    set(include_args "")
    set(include_file "")
    get_target_property(subcommands_generator ${target} ROOMPUSH_MAN_SUBCOMMANDS)
    if(subcommands_generator)
        set(include_file ${CMAKE_BINARY_DIR}/man/${target}.subcommands.h2m)
        add_custom_command(
            OUTPUT ${include_file}
            COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
            COMMAND ${production_env} ${ROOMPUSH_MAN_PYTHON} ${subcommands_generator}
                    $<TARGET_FILE:${target}> ${include_file}
            DEPENDS ${target} ${subcommands_generator}
            COMMENT "Man page sections for the subcommands of ${target}"
            VERBATIM)
        set(include_args --include=${include_file})
    endif()
    add_custom_command(
        OUTPUT ${page} ${page}.gz
        COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
        COMMAND ${production_env}
                ${HELP2MAN_EXECUTABLE} --no-info --no-discard-stderr
                --name=${description} --version-string=${PROJECT_VERSION} ${include_args}
                --output=${page} $<TARGET_FILE:${target}>
        COMMAND ${GZIP_EXECUTABLE} -n -9 -k -f ${page}
        DEPENDS ${target} ${include_file}
        COMMENT "Man page for ${target}"
        VERBATIM)
    add_custom_target(${target}-man ALL DEPENDS ${page}.gz)
    install(FILES ${page}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endfunction()
