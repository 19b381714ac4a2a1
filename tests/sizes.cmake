# Issue 10 item 6's size limits (tests/check_sizes.sh): no source file of
# compiler/ or runtime/ over 900 lines, no function over 120; and the
# checker itself against a tree made to break both. Included from
# tests/CMakeLists.txt. Run them with `ctest -R sizes`.
add_test(NAME sizes.sources
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/check_sizes.sh ${PROJECT_SOURCE_DIR})
add_test(NAME sizes.self_test
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/check_sizes.sh --self-test
          ${CMAKE_CURRENT_BINARY_DIR}/sizes_self_test)
set_tests_properties(sizes.sources sizes.self_test PROPERTIES LABELS scripts TIMEOUT 120)
