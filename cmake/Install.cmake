# Where `cmake --install` (prefix /usr) and the .deb put things: the standard Debian paths.

install(TARGETS roompush-sidecar roompush-fcgi pushctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# The default --exec of roompush-fcgi names this path.
install(TARGETS cad-inspect RUNTIME DESTINATION lib/roompush)
install(FILES etc/roompush-sidecar.conf etc/roompush-fcgi.conf etc/pushctl.conf
        DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/roompush)
install(FILES systemd/roompush-sidecar.service systemd/roompush-fcgi.service
              systemd/roompush-fcgi.socket
        DESTINATION lib/systemd/system)
install(FILES systemd/roompush.sysusers.conf DESTINATION lib/sysusers.d RENAME roompush.conf)
install(FILES systemd/roompush.tmpfiles.conf DESTINATION lib/tmpfiles.d RENAME roompush.conf)
# The production site, ready to enable (docs/deploy.md); a conffile like the daemons' configs.
install(FILES nginx/roompush.conf DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/nginx/sites-available)
# Served by nginx as they are: only what a browser needs (not the script that made the samples).
install(DIRECTORY web/ DESTINATION ${CMAKE_INSTALL_DATADIR}/roompush/web
        PATTERN "node_modules" EXCLUDE PATTERN "package-lock.json" EXCLUDE
        PATTERN "package.json" EXCLUDE PATTERN "*.py" EXCLUDE)
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME roompush)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "roompush maintainers <maintainers@roompush.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "push results to browsers in rooms, behind nginx")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION web)
# Library dependencies come from the binaries themselves (dpkg-shlibdeps); nginx is named, and
# libwebsockets' libev plugin, which lws loads at run time (the sidecar's epoll loop).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "nginx | nginx-light | nginx-full | nginx-extras, libwebsockets-evlib-ev")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/packaging/conffiles
    ${CMAKE_SOURCE_DIR}/packaging/postinst
    ${CMAKE_SOURCE_DIR}/packaging/prerm
    ${CMAKE_SOURCE_DIR}/packaging/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
