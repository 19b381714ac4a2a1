# The CNN examples of examples/ (resnet18, digits_resnet, unet,
# mobilenet_block), each a test of the fact it illustrates
# (tests/run_cnn_examples.sh): `ctest -L examples -R cnn`. Included from
# tests/CMakeLists.txt after scripts.cmake (nnc_cmp).
foreach(ex resnet18 digits_resnet unet mobilenet_block)
  if(NOT EXISTS ${PROJECT_SOURCE_DIR}/examples/${ex}.nnet)
    continue()
  endif()
  add_test(NAME examples.cnn.${ex}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/run_cnn_examples.sh $<TARGET_FILE:nnc>
            $<TARGET_FILE:nnc_cmp> ${CMAKE_CURRENT_BINARY_DIR}/cnn_examples/${ex} ${ex})
  set_tests_properties(examples.cnn.${ex} PROPERTIES LABELS examples TIMEOUT 2400 SKIP_RETURN_CODE 77)
endforeach()
