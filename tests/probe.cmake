# Probes of issue 17 as tests: one ctest per case of run_probe.sh (a device
# node, a /dev/full-like node, a FIFO, kept permissions, a full tmpfs,
# /dev/zero as an input). A case that cannot run here (mknod or mount not
# allowed) exits 77 and is reported as skipped, with the reason in its
# output. Included from tests/CMakeLists.txt; run them with `ctest -L probe`.
find_program(NNC_PROBE_BASH bash)
if(NOT NNC_PROBE_BASH)
  set(NNC_PROBE_BASH bash)
endif()

foreach(case device full fifo mode tmpfs devzero)
  add_test(NAME probe.${case}
    COMMAND ${NNC_PROBE_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/run_probe.sh
            $<TARGET_FILE:nnc> ${CMAKE_CURRENT_BINARY_DIR}/probe/${case} ${case})
  set_tests_properties(probe.${case} PROPERTIES LABELS "bad;probe" TIMEOUT 300
    SKIP_RETURN_CODE 77)
endforeach()
# The byte limit on non-regular inputs (issue 17 item 5) is being added on
# another branch; until it lands `nnc check /dev/zero` runs out of memory.
# Remove this line once it has.
set_tests_properties(probe.devzero PROPERTIES DISABLED TRUE)
