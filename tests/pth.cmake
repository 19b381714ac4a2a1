# PyTorch .pth state_dicts end to end (tests/data/pth, made by
# tests/pytorch/make_pth.py): nnc build --weights, a program's --weights and
# --init, nnc convert, and the refusals; run by run_pth.sh. Included from
# tests/CMakeLists.txt after scripts.cmake (which defines nnc_cmp).
find_program(NNC_PTH_BASH bash)
if(NOT NNC_PTH_BASH)
  set(NNC_PTH_BASH bash)
endif()
add_test(NAME pth.end_to_end
  COMMAND ${NNC_PTH_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/run_pth.sh
          $<TARGET_FILE:nnc> $<TARGET_FILE:nnc_cmp> ${CMAKE_CURRENT_SOURCE_DIR}/data/pth
          ${CMAKE_CURRENT_BINARY_DIR}/pth)
set_tests_properties(pth.end_to_end PROPERTIES LABELS "pytorch;bad" TIMEOUT 600)
