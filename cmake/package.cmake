# The Debian 12 package (scripts/package, docs/packaging.md): install rules and CPack's
# DEB generator. Included only with -DHSYNC_PACKAGE=ON, so that other builds install
# nothing into /etc.
set(pkg ${PROJECT_SOURCE_DIR}/packaging)

install(TARGETS hsyncd RUNTIME DESTINATION sbin)
install(TARGETS hsyncctl RUNTIME DESTINATION bin)
install(FILES ${pkg}/hsyncd@.service DESTINATION /lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/configuration.md
              ${PROJECT_SOURCE_DIR}/docs/packaging.md
        DESTINATION share/doc/hsync)

# Every packaging/etc/*.yaml is an example configuration and a conffile: adding a role's
# example is adding its file there.
file(GLOB HSYNC_EXAMPLE_CONFIGS CONFIGURE_DEPENDS ${pkg}/etc/*.yaml)
install(FILES ${HSYNC_EXAMPLE_CONFIGS} DESTINATION /etc/hsync)
set(conffiles "")
foreach(f ${HSYNC_EXAMPLE_CONFIGS})
  get_filename_component(n ${f} NAME)
  string(APPEND conffiles "/etc/hsync/${n}\n")
endforeach()
file(WRITE ${CMAKE_BINARY_DIR}/debian/conffiles "${conffiles}")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME hsync)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "distributed DNSSEC multi-signer (hsyncd, hsyncctl)")
string(CONCAT CPACK_PACKAGE_DESCRIPTION
       "hsync keeps every DNS provider's signed copy of a zone in sync (RFC 8901 model 2):\n"
       "roles auth, combiner, signer and parent, one systemd instance (hsyncd@ROLE) each.")
set(CPACK_PACKAGE_CONTACT "hsync maintainers <root@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # hsync_VERSION_ARCH.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Library dependencies come from dpkg-shlibdeps (the versions the build linked against);
# the rest are what the maintainer scripts and the examples use.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, dns-root-data")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${CMAKE_BINARY_DIR}/debian/conffiles;${pkg}/debian/postinst;${pkg}/debian/prerm;${pkg}/debian/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
