# PyTorch agreement: one ctest per fixture case in tests/fixtures/<kind>/<case>
# (made by tests/pytorch/make_fixtures.py, committed), run by run_fixture.sh
# with the nnc executable and the nnc_cmp comparison tool. Included from
# tests/CMakeLists.txt. Run them with `ctest -L pytorch`.

add_executable(nnc_cmp ${CMAKE_CURRENT_SOURCE_DIR}/tools/nnc_cmp.c)
target_link_libraries(nnc_cmp PRIVATE nnr m)

find_program(NNC_BASH bash)
if(NOT NNC_BASH)
  set(NNC_BASH bash)
endif()

file(GLOB NNC_FIXTURE_DIRS LIST_DIRECTORIES true CONFIGURE_DEPENDS
  ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/*/*)
list(SORT NNC_FIXTURE_DIRS)
foreach(dir ${NNC_FIXTURE_DIRS})
  if(NOT IS_DIRECTORY ${dir} OR NOT EXISTS ${dir}/model.nnet)
    continue()
  endif()
  get_filename_component(case ${dir} NAME)
  get_filename_component(kind_dir ${dir} DIRECTORY)
  get_filename_component(kind ${kind_dir} NAME)
  set(test fixture.${kind}.${case})
  add_test(NAME ${test}
    COMMAND ${NNC_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/run_fixture.sh
            $<TARGET_FILE:nnc> $<TARGET_FILE:nnc_cmp> ${dir}
            ${CMAKE_CURRENT_BINARY_DIR}/fixtures/${kind}/${case})
  set_tests_properties(${test} PROPERTIES LABELS pytorch TIMEOUT 300)
endforeach()

# The comparison tool itself: it accepts a file equal to itself and rejects
# one that differs (the initial weights of a training case are not its result).
set(NNC_CMP_CASE ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/train/opt_sgd)
if(EXISTS ${NNC_CMP_CASE}/expected.safetensors)
  add_test(NAME fixture.tool.nnc_cmp_same
    COMMAND nnc_cmp st ${NNC_CMP_CASE}/expected.safetensors ${NNC_CMP_CASE}/expected.safetensors)
  add_test(NAME fixture.tool.nnc_cmp_differs
    COMMAND nnc_cmp st ${NNC_CMP_CASE}/expected.safetensors ${NNC_CMP_CASE}/init.safetensors)
  set_tests_properties(fixture.tool.nnc_cmp_differs PROPERTIES
    PASS_REGULAR_EXPRESSION "values differ")
  set_tests_properties(fixture.tool.nnc_cmp_same fixture.tool.nnc_cmp_differs
    PROPERTIES LABELS "pytorch;tool")
endif()

# Command-line overrides of the train block against the same fixtures: one
# ctest per case of tests/overrides.txt (run_override.sh).
file(STRINGS ${CMAKE_CURRENT_SOURCE_DIR}/overrides.txt NNC_OVERRIDE_LINES REGEX "^[a-z0-9_]+ +\\|")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/overrides.txt)
foreach(line ${NNC_OVERRIDE_LINES})
  string(REGEX REPLACE " .*" "" case "${line}")
  add_test(NAME override.${case}
    COMMAND ${NNC_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/run_override.sh
            $<TARGET_FILE:nnc> $<TARGET_FILE:nnc_cmp> ${CMAKE_CURRENT_SOURCE_DIR}
            ${CMAKE_CURRENT_BINARY_DIR}/override/${case} ${case})
  set_tests_properties(override.${case} PROPERTIES LABELS pytorch TIMEOUT 300)
endforeach()
