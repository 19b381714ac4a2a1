# Front-end and driver robustness (issue 17 items 3, 4, 5, 7, 8, 10): one
# ctest per script of tests/front, each run as SCRIPT NNC WORK_DIR.
# Included from tests/CMakeLists.txt.
file(GLOB NNC_FRONT_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/front/*.sh)
list(SORT NNC_FRONT_TESTS)
foreach(script ${NNC_FRONT_TESTS})
  get_filename_component(name ${script} NAME_WE)
  add_test(NAME front.${name}
    COMMAND bash ${script} $<TARGET_FILE:nnc> ${CMAKE_CURRENT_BINARY_DIR}/front/${name})
  set_tests_properties(front.${name} PROPERTIES LABELS "bad;front" TIMEOUT 300)
endforeach()
