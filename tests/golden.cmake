# Golden-file tests (tests/golden/{check,ir,run,cli}, style habit H10) and the
# examples of examples/ as tests. Included from tests/CMakeLists.txt.
#   ctest -L golden                         one test per golden case (run_golden.sh)
#   cmake --build . --target golden-update  rewrites every expectation; read the diff
#                                           (UPDATE_GOLDEN=1 ctest -L golden does the same)
#   ctest -L examples                       each example built and checked (run_examples.sh)
# Conventions of the golden folders: tests/golden/README.md.

find_program(NNC_GOLDEN_BASH bash)
if(NOT NNC_GOLDEN_BASH)
  set(NNC_GOLDEN_BASH bash)
endif()
set(NNC_GOLDEN_RUNNER ${CMAKE_CURRENT_SOURCE_DIR}/run_golden.sh)
set(NNC_GOLDEN_WORK ${CMAKE_CURRENT_BINARY_DIR}/golden)

file(GLOB NNC_GOLDEN_CASES CONFIGURE_DEPENDS
  ${CMAKE_CURRENT_SOURCE_DIR}/golden/check/*.nnet
  ${CMAKE_CURRENT_SOURCE_DIR}/golden/ir/*.nnet
  ${CMAKE_CURRENT_SOURCE_DIR}/golden/run/*.nnet
  ${CMAKE_CURRENT_SOURCE_DIR}/golden/cli/*.sh)
list(SORT NNC_GOLDEN_CASES)
foreach(case ${NNC_GOLDEN_CASES})
  get_filename_component(name ${case} NAME_WLE)
  get_filename_component(dir ${case} DIRECTORY)
  get_filename_component(area ${dir} NAME)
  add_test(NAME golden.${area}.${name}
    COMMAND ${NNC_GOLDEN_BASH} ${NNC_GOLDEN_RUNNER}
            --nnc $<TARGET_FILE:nnc> --work ${NNC_GOLDEN_WORK} ${case})
  set_tests_properties(golden.${area}.${name} PROPERTIES LABELS golden TIMEOUT 120)
endforeach()

add_custom_target(golden-update
  COMMAND ${CMAKE_COMMAND} -E env UPDATE_GOLDEN=1
          ${NNC_GOLDEN_BASH} ${NNC_GOLDEN_RUNNER} --nnc $<TARGET_FILE:nnc> --work ${NNC_GOLDEN_WORK}
  DEPENDS nnc
  COMMENT "Regenerating the golden files of tests/golden (review them with git diff)"
  USES_TERMINAL VERBATIM)

# The examples: each one's fact (slide numbers, linear collapse, digits >= 97%, ...).
foreach(ex slide slide_product chain chain_relu classifier multiclass mnist_cnn digits)
  add_test(NAME examples.${ex}
    COMMAND ${NNC_GOLDEN_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/run_examples.sh
            $<TARGET_FILE:nnc> ${CMAKE_CURRENT_BINARY_DIR}/examples/${ex} ${ex})
  set_tests_properties(examples.${ex} PROPERTIES LABELS examples TIMEOUT 300)
endforeach()
add_test(NAME examples.demo
  COMMAND ${NNC_GOLDEN_BASH} ${PROJECT_SOURCE_DIR}/scripts/demo.sh
          $<TARGET_FILE:nnc> ${CMAKE_CURRENT_BINARY_DIR}/examples/demo)
set_tests_properties(examples.demo PROPERTIES LABELS examples TIMEOUT 300
  PASS_REGULAR_EXPRESSION "test accuracy: (9[7-9]|100)\\.[0-9]+%")
