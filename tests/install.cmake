# Install and embedding tests (tests/run_install.sh, tests/run_embed.sh):
# `cmake --install` into a temporary prefix, then builds against the
# installed runtime with pkg-config and find_package(nnc). Label: tool.
add_test(NAME tool.install
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/run_install.sh ${PROJECT_BINARY_DIR}
          ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/install)
set_tests_properties(tool.install PROPERTIES LABELS tool TIMEOUT 600)
add_test(NAME tool.embed_example
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/run_embed.sh $<TARGET_FILE:nnc>
          ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/embed)
set_tests_properties(tool.embed_example PROPERTIES LABELS "tool;examples" TIMEOUT 600)
