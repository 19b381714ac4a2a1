# ONNX import (`nnc import`, compiler/import/): the models exported by
# tests/pytorch/make_onnx.py (tests/data/onnx) end to end against PyTorch, and
# the conformance run over Debian's libonnx-testdata node tests with a floor
# on the pass count. Label onnx. Without ONNX support in nnc (protobuf-c and
# libonnx-dev absent at build time) the tests are skipped, and say so.
# Included from tests/CMakeLists.txt after scripts.cmake (nnc_cmp).
find_program(NNC_ONNX_BASH bash)
if(NOT NNC_ONNX_BASH)
  set(NNC_ONNX_BASH bash)
endif()
if(NNC_ONNX_ENABLED)
  add_executable(onnx_tensors ${CMAKE_CURRENT_SOURCE_DIR}/tools/onnx_tensors.c)
  target_link_libraries(onnx_tensors PRIVATE nnc_core nnr m)
  add_test(NAME onnx.models
    COMMAND ${NNC_ONNX_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/run_onnx_models.sh
            $<TARGET_FILE:nnc> $<TARGET_FILE:nnc_cmp> ${CMAKE_CURRENT_SOURCE_DIR}/data/onnx
            ${CMAKE_CURRENT_BINARY_DIR}/onnx_models)
  set_tests_properties(onnx.models PROPERTIES LABELS "onnx;pytorch;bad" TIMEOUT 600)
  # The pass count over every node test may not drop below the floor. Under
  # the sanitizers (whose builds are several times slower) a sample of
  # operators runs, checked for crashes and sanitizer reports only.
  set(NNC_ONNX_FLOOR ${CMAKE_CURRENT_SOURCE_DIR}/onnx_floor.txt)
  set(NNC_ONNX_ENV "")
  if(NNC_SANITIZE)
    set(NNC_ONNX_FLOOR none)
    set(NNC_ONNX_ENV "NNC_ONNX_ONLY=test_(relu|softmax|concat|maxpool|averagepool|transpose|reshape|split|reduce_mean|add|flatten|clip|hardsigmoid|min|slice|gemm|exp|where|greater|and|reduce_max|reduce_prod|layer_normalization_2d|prelu|mod|argmax_keepdims|argmin_no_keepdims|nllloss_NCd1d2|sce_none|gather_elements_0|gather_1|pow_bcast)")
  endif()
  add_test(NAME onnx.node_conformance
    COMMAND ${NNC_ONNX_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/run_onnx_node.sh
            $<TARGET_FILE:nnc> $<TARGET_FILE:onnx_tensors>
            /usr/share/libonnx-testdata/data/node ${CMAKE_CURRENT_BINARY_DIR}/onnx_node
            ${NNC_ONNX_FLOOR})
  set_tests_properties(onnx.node_conformance PROPERTIES LABELS onnx TIMEOUT 3600
                       SKIP_RETURN_CODE 77 ENVIRONMENT "${NNC_ONNX_ENV}")
else()
  message(STATUS "nnc: ONNX import tests skipped (nnc built without ONNX support)")
  add_test(NAME onnx.skipped COMMAND ${NNC_ONNX_BASH} -c
    "echo 'ONNX import tests skipped: install libprotobuf-c-dev protobuf-c-compiler libonnx-dev libonnx-testdata and rebuild'; exit 77")
  set_tests_properties(onnx.skipped PROPERTIES LABELS onnx SKIP_RETURN_CODE 77)
endif()
