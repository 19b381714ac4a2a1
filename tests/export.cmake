# nnc export --torch (tests/run_export.sh): each example, each model of
# tests/export/models and a set of infer fixtures exported, run by Debian's
# PyTorch and compared with the compiled program's infer; each
# tests/export/bad/*.nnet refused. Skipped (exit 77) where
# /usr/bin/python3 has no torch. Included from tests/CMakeLists.txt after
# scripts.cmake (which defines nnc_cmp and NNC_BASH).
file(GLOB NNC_EXPORT_EXAMPLES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/examples/*.nnet)
# resnet18 with seeded random weights reaches activations of 1e6 through
# its untrained batch norms, where float rounding exceeds the comparison's
# tolerance; its agreement with PyTorch is examples.cnn.resnet18's (trained-
# like torchvision weights, compared there).
list(FILTER NNC_EXPORT_EXAMPLES EXCLUDE REGEX "/resnet18\\.nnet$")
# Fixtures: a set that meets every op of the table that a sequence model
# can hold, and each of its attributes (not all of them: each case costs a
# build and a PyTorch start).
set(NNC_EXPORT_FIXTURES)
foreach(n avgpool2d_k3s2p1 batchnorm1d_cl bn_mlp conv2d_nobias conv2d_tuple conv_bn2d
          dropout elu_alpha flatten gelu identity leaky_relu_02 linear_nobias literal_bias
          log_softmax maxpool2d_k3s2p1 mnist_cnn named pool_strides sigmoid silu
          softmax_dims_chw softplus_beta tanh
          adaptive_avg_pool2d avgpool1d conv1d conv2d_dilation_groups conv2d_padding_same
          conv_transpose2d layernorm_2d layernorm_nobias layernorm_plain maxpool1d
          upsample upsample_1d upsample_frac upsample_bilinear upsample_bilinear_frac upsample_linear_1d
          seq_embedding seq_gelu_tanh seq_gru_2l_bi seq_lstm_2l_bi seq_lstm_nobias
          tie_lm_head tie_head_bias)
  list(APPEND NNC_EXPORT_FIXTURES ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/infer/${n})
endforeach()
file(GLOB NNC_EXPORT_MODELS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/export/models/*.nnet)
file(GLOB NNC_EXPORT_BAD CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/export/bad/*.nnet
  ${CMAKE_CURRENT_SOURCE_DIR}/export/bad/*.nir)
set(NNC_EXPORT_CASES)
foreach(f ${NNC_EXPORT_EXAMPLES})
  get_filename_component(n ${f} NAME_WE)
  list(APPEND NNC_EXPORT_CASES example:${n})
endforeach()
foreach(d ${NNC_EXPORT_FIXTURES})
  if(IS_DIRECTORY ${d} AND EXISTS ${d}/model.nnet)
    get_filename_component(n ${d} NAME)
    list(APPEND NNC_EXPORT_CASES fixture:${n})
  endif()
endforeach()
foreach(f ${NNC_EXPORT_MODELS})
  get_filename_component(n ${f} NAME_WE)
  list(APPEND NNC_EXPORT_CASES model:${n})
endforeach()
foreach(f ${NNC_EXPORT_BAD})
  get_filename_component(n ${f} NAME_WE)
  list(APPEND NNC_EXPORT_CASES bad:${n})
endforeach()
list(SORT NNC_EXPORT_CASES)
foreach(c ${NNC_EXPORT_CASES})
  string(REPLACE ":" "." t ${c})
  add_test(NAME export.${t}
    COMMAND ${NNC_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/run_export.sh
            $<TARGET_FILE:nnc> $<TARGET_FILE:nnc_cmp> ${PROJECT_SOURCE_DIR}
            ${CMAKE_CURRENT_BINARY_DIR}/export/${t} ${c})
  set_tests_properties(export.${t} PROPERTIES LABELS "pytorch;tool" TIMEOUT 300
    SKIP_RETURN_CODE 77)
endforeach()
