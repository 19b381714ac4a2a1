# neon.cmake — the NEON build of the kernels, checked under qemu-user
# (tests/neon/run.sh). Skipped, not failed, without the cross compiler or
# qemu. Included from tests/CMakeLists.txt.
add_test(NAME neon.kernels
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/run.sh ${PROJECT_SOURCE_DIR}
          ${CMAKE_CURRENT_BINARY_DIR}/neon)
set_tests_properties(neon.kernels PROPERTIES LABELS "unit;neon" SKIP_RETURN_CODE 77
                     TIMEOUT 600)
