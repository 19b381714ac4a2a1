# Pass pipeline checks that need the nnc executable (tests/opt_checks.sh);
# the per-pass golden IR files run in tests/unit/test_passes.c. Included
# from tests/CMakeLists.txt. Run them with `ctest -L opt`.
find_program(NNC_OPT_BASH bash)
if(NOT NNC_OPT_BASH)
  set(NNC_OPT_BASH bash)
endif()
foreach(check chain3 train summary cli)
  add_test(NAME opt.${check}
    COMMAND ${NNC_OPT_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/opt_checks.sh
            $<TARGET_FILE:nnc> ${CMAKE_CURRENT_SOURCE_DIR} ${check})
  set_tests_properties(opt.${check} PROPERTIES LABELS opt TIMEOUT 900)
endforeach()
# The round trip over every fixture model, in two halves that ctest can run
# side by side.
foreach(kinds "infer" "train eval")
  string(REPLACE " " "_" part "${kinds}")
  add_test(NAME opt.roundtrip.${part}
    COMMAND ${NNC_OPT_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/opt_checks.sh
            $<TARGET_FILE:nnc> ${CMAKE_CURRENT_SOURCE_DIR} roundtrip "${kinds}")
  set_tests_properties(opt.roundtrip.${part} PROPERTIES LABELS opt TIMEOUT 900)
endforeach()
