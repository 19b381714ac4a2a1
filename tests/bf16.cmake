# bf16 weights (nnc --dtype bf16) end to end: tests/run_bf16.sh. Included
# from tests/CMakeLists.txt.
add_test(NAME bf16.digits
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/run_bf16.sh $<TARGET_FILE:nnc> ${PROJECT_SOURCE_DIR}
          ${CMAKE_CURRENT_BINARY_DIR}/bf16)
set_tests_properties(bf16.digits PROPERTIES LABELS "numeric;bf16" TIMEOUT 600)
