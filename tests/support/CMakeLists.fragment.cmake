# effopt_test_support: the ONNX Runtime harness (tests/ort/ort_runner.js driven from C++) and tensor helpers
# for tests. Include this file from tests/CMakeLists.txt; tests then link effopt_test_support and
# `#include "support/ort_harness.h"`.
#
# Paths are taken relative to this file, so it works from any including directory (and from a scratch
# project that includes it directly).

if(NOT TARGET onnx)
  find_package(ONNX REQUIRED)
endif()
if(NOT TARGET protobuf::libprotobuf)
  find_package(Protobuf REQUIRED)
endif()
if(NOT TARGET nlohmann_json::nlohmann_json)
  find_package(nlohmann_json REQUIRED)
endif()

file(GLOB EFFOPT_TEST_SUPPORT_SOURCES CONFIGURE_DEPENDS "${CMAKE_CURRENT_LIST_DIR}/*.cpp")
add_library(effopt_test_support STATIC ${EFFOPT_TEST_SUPPORT_SOURCES})
target_compile_features(effopt_test_support PUBLIC cxx_std_20)
target_include_directories(effopt_test_support PUBLIC "${CMAKE_CURRENT_LIST_DIR}/..")
target_link_libraries(effopt_test_support
  PUBLIC onnx onnx_proto protobuf::libprotobuf
  PRIVATE nlohmann_json::nlohmann_json)
if(TARGET effopt_warnings)
  target_link_libraries(effopt_test_support PRIVATE effopt_warnings)
endif()

# Source-tree path of the runner script; EFFOPT_ORT_RUNNER overrides it at run time.
get_filename_component(EFFOPT_ORT_RUNNER_JS_PATH "${CMAKE_CURRENT_LIST_DIR}/../ort/ort_runner.js" ABSOLUTE)
target_compile_definitions(effopt_test_support PRIVATE EFFOPT_ORT_RUNNER_JS="${EFFOPT_ORT_RUNNER_JS_PATH}")
