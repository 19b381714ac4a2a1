# bench/'s machine bounds (tests/run_bench_report.sh): bench/machine.c and
# the fractions and BENCH BUG check of bench/report.py on hand-computed
# cases. No speed is asserted. Included from tests/CMakeLists.txt.
add_test(NAME tool.bench_report
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/run_bench_report.sh ${CMAKE_C_COMPILER}
          ${CMAKE_CURRENT_BINARY_DIR}/bench_report)
set_tests_properties(tool.bench_report PROPERTIES LABELS tool TIMEOUT 120)
