# install.cmake — `cmake --install build --prefix P` (or `--target install`):
# P/bin/nnc, P/lib/libnnr.a, P/include/nnr/{nnr.h,nnr_prog.h,simd.h},
# P/lib/pkgconfig/nnr.pc and P/lib/cmake/nnc (find_package(nnc): nnc::nnr,
# NNC_EXECUTABLE). Included from runtime/CMakeLists.txt, where nnr is defined.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS nnr EXPORT nncTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${PROJECT_SOURCE_DIR}/runtime/nnr.h ${PROJECT_SOURCE_DIR}/runtime/nnr_prog.h
              ${PROJECT_SOURCE_DIR}/runtime/simd.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/nnr)

# pkg-config: a static library, so its own link needs (libm, OpenMP) are in Libs.
set(NNR_PC_LIBS "-lm")
set(NNR_PC_REQUIRES_CMAKE "")
if(NNC_THREADS)
  set(NNR_PC_LIBS "-fopenmp -lm")
  set(NNR_PC_REQUIRES_CMAKE "find_dependency(OpenMP COMPONENTS C)")
endif()
# The prefix is found from the .pc file's own place (${pcfiledir}), so the
# file is right for whatever --prefix the install is given.
file(RELATIVE_PATH NNR_PC_UP /x/${CMAKE_INSTALL_LIBDIR}/pkgconfig /x)
string(REGEX REPLACE "/$" "" NNR_PC_UP "${NNR_PC_UP}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/nnr.pc.in ${PROJECT_BINARY_DIR}/nnr.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/nnr.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

set(NNC_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/nnc)
install(EXPORT nncTargets NAMESPACE nnc:: DESTINATION ${NNC_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/nncConfig.cmake.in
  ${PROJECT_BINARY_DIR}/nncConfig.cmake INSTALL_DESTINATION ${NNC_CMAKE_DIR} PATH_VARS CMAKE_INSTALL_BINDIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/nncConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/nncConfig.cmake ${PROJECT_BINARY_DIR}/nncConfigVersion.cmake
        DESTINATION ${NNC_CMAKE_DIR})
