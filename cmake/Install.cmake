# Where `cmake --install` (prefix /usr) and the .deb put things: the standard Debian paths.

install(TARGETS roompush-sidecar roompush-fcgi pushctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# Where bash-completion looks for a command's completion when it is first completed.
install(FILES cli/pushctl-completion.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME pushctl)
# The default --exec of roompush-fcgi names this path.
install(TARGETS cad-inspect RUNTIME DESTINATION lib/roompush)
install(FILES etc/roompush-sidecar.conf etc/roompush-fcgi.conf etc/pushctl.conf
        DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/roompush)
install(FILES systemd/roompush-sidecar.service systemd/roompush-sidecar@.service
              systemd/roompush-fcgi.service systemd/roompush-fcgi.socket
        DESTINATION lib/systemd/system)
install(FILES systemd/roompush.sysusers.conf DESTINATION lib/sysusers.d RENAME roompush.conf)
install(FILES systemd/roompush.tmpfiles.conf DESTINATION lib/tmpfiles.d RENAME roompush.conf)
# The production site, ready to enable (docs/deploy.md); a conffile like the daemons' configs.
install(FILES nginx/roompush.conf DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/nginx/sites-available)
# Served by nginx as they are: only what a browser needs (not the script that made the samples).
install(DIRECTORY web/ DESTINATION ${CMAKE_INSTALL_DATADIR}/roompush/web
        PATTERN "node_modules" EXCLUDE PATTERN "package-lock.json" EXCLUDE
        PATTERN "package.json" EXCLUDE PATTERN "*.py" EXCLUDE
        PATTERN "*.d.ts" EXCLUDE)  # the npm package's types, not the page's
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR})

# What Debian wants beside every package's docs: the licence (DEP-5) and, for a native package,
# the changelog as changelog.gz, compressed with -n so the bytes do not depend on the build time.
find_program(GZIP_EXECUTABLE gzip REQUIRED)
set(ROOMPUSH_CHANGELOG_GZ ${CMAKE_BINARY_DIR}/packaging/changelog.gz)
add_custom_command(
    OUTPUT ${ROOMPUSH_CHANGELOG_GZ}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/packaging
    COMMAND sh -c "\"$1\" -n -9 -c \"$2\" > \"$3\"" sh
            ${GZIP_EXECUTABLE} ${CMAKE_SOURCE_DIR}/packaging/changelog ${ROOMPUSH_CHANGELOG_GZ}
    DEPENDS ${CMAKE_SOURCE_DIR}/packaging/changelog
    COMMENT "Compressing packaging/changelog"
    VERBATIM)
add_custom_target(roompush-changelog ALL DEPENDS ${ROOMPUSH_CHANGELOG_GZ})
install(FILES packaging/copyright ${ROOMPUSH_CHANGELOG_GZ} DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME roompush)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "roompush maintainers <maintainers@roompush.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "push results to browsers in rooms, behind nginx")
# The extended description: lines of at most 80 columns (CPack indents them by one space).
set(CPACK_PACKAGE_DESCRIPTION [=[
roompush lets an nginx-hosted web application answer a browser later,
without being asked. A browser uploads a file with POST /cad; nginx hands it
to a FastCGI app (roompush-fcgi) that spools it, answers 202 at once and runs
an external program on it (the included cad-inspect reads STL and DXF files).
The program's progress and result go to a WebSocket sidecar
(roompush-sidecar), which pushes them to every browser in the room through
nginx, with history and resume. pushctl publishes to rooms and inspects them.

The package holds both daemons with their systemd units, the nginx site,
commented configuration files, man pages and a browser client (roompush.js).]=])
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION web)
# Library dependencies come from the binaries themselves (dpkg-shlibdeps); nginx is named, and
# libwebsockets' libev plugin, which lws loads at run time (the sidecar's epoll loop). procps
# has /bin/kill, the app unit's ExecReload. The maintainer scripts need adduser (the user, where
# systemd-sysusers is absent, and taking www-data out of group roompush) and init-system-helpers'
# deb-systemd-helper and deb-systemd-invoke (essential, so versioned: what dh_installsystemd asks).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
string(JOIN ", " CPACK_DEBIAN_PACKAGE_DEPENDS
    "nginx | nginx-light | nginx-full | nginx-extras" libwebsockets-evlib-ev procps adduser
    "init-system-helpers (>= 1.54~)")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/packaging/conffiles
    ${CMAKE_SOURCE_DIR}/packaging/postinst
    ${CMAKE_SOURCE_DIR}/packaging/prerm
    ${CMAKE_SOURCE_DIR}/packaging/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Debian ships programs without their symbols (lintian: unstripped-binary-or-object).
set(CPACK_STRIP_FILES ON)
include(CPack)
