# Install, embedding and picture tests (run_install.sh, run_embed.sh, run_dot.sh,
# run_plot.sh, run_train_plot.sh):
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
# nnc dot: the graph of a sequential and of a graph model in DOT.
add_test(NAME tool.dot
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/run_dot.sh $<TARGET_FILE:nnc>
          ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/dot)
set_tests_properties(tool.dot PROPERTIES LABELS tool TIMEOUT 120)
# examples/mnist_cnn.nnet trains on small IDX files the test writes; the
# hint of a program without a train block.
add_test(NAME examples.mnist_cnn_train
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/run_mnist_example.sh $<TARGET_FILE:nnc>
          ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/mnist_example)
set_tests_properties(examples.mnist_cnn_train PROPERTIES LABELS examples TIMEOUT 600)
# scripts/plot-log.py: the training curves of a --log as SVG.
add_test(NAME tool.plot_log
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/run_plot.sh $<TARGET_FILE:nnc>
          ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/plot)
set_tests_properties(tool.plot_log PROPERTIES LABELS tool TIMEOUT 300 SKIP_RETURN_CODE 77)
# PROG train --plot: the curves SVG the program writes after every epoch.
add_test(NAME tool.train_plot
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/run_train_plot.sh $<TARGET_FILE:nnc>
          ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/train_plot)
set_tests_properties(tool.train_plot PROPERTIES LABELS tool TIMEOUT 1200 SKIP_RETURN_CODE 77)
# --help of nnc and of a program lists every command and option.
add_test(NAME tool.help
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/run_help.sh $<TARGET_FILE:nnc>
          ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/help)
set_tests_properties(tool.help PROPERTIES LABELS tool TIMEOUT 300)
# Every ```nnet block of docs/*.md and README.md passes nnc check; no page
# names a path outside the repository; relative links resolve.
add_test(NAME docs.snippets
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/run_doc_snippets.sh $<TARGET_FILE:nnc>
          ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/doc_snippets)
set_tests_properties(docs.snippets PROPERTIES LABELS tool TIMEOUT 120)
