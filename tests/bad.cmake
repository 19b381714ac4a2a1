# The bad-input corpus: one ctest per tests/bad/cases/NAME.expect (written by
# tests/bad/make_cases.py), run by run_bad.sh with the nnc executable; plus
# the kill-during-save test. Included from tests/CMakeLists.txt. Run them
# with `ctest -L bad`.
find_program(NNC_BAD_BASH bash)
if(NOT NNC_BAD_BASH)
  set(NNC_BAD_BASH bash)
endif()

file(GLOB NNC_BAD_CASES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/bad/cases/*.expect)
list(SORT NNC_BAD_CASES)
foreach(exp ${NNC_BAD_CASES})
  get_filename_component(name ${exp} NAME_WE)
  add_test(NAME bad.${name}
    COMMAND ${NNC_BAD_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/run_bad.sh
            $<TARGET_FILE:nnc> ${exp} ${CMAKE_CURRENT_BINARY_DIR}/bad/${name})
  set_tests_properties(bad.${name} PROPERTIES LABELS bad TIMEOUT 300)
endforeach()

if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/run_kill_save.sh)
  add_test(NAME bad.kill_during_save
    COMMAND ${NNC_BAD_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/run_kill_save.sh
            $<TARGET_FILE:nnc> ${CMAKE_CURRENT_BINARY_DIR}/bad/_kill_save)
  set_tests_properties(bad.kill_during_save PROPERTIES LABELS bad TIMEOUT 600)
endif()
