# -DRF_CUDA_EMULATION=ON builds the CUDA backend (engine/cuda), our kernels (kernels/cuda) and the
# GPU test suites as plain C++ against the host emulation of a CUDA device in tests/cuda_emulation
# (its cuda_runtime.h, cudnn.h and cublas_v2.h stand in for NVIDIA's), so that a machine without a
# GPU or nvcc runs the GPU suites: CI does, in its sanitized build. It checks what the emulation
# can (the backend's logic, stream capture, memory use, every kernel's indexing and
# synchronization), not the GPU, cuDNN or cuBLAS themselves: see tests/cuda_emulation.

# rf_emulated_sources(OUT file...): the files, with each .cu replaced by a generated one-line .cpp
# that includes it (the same source, compiled as C++; never a copy).
function(rf_emulated_sources out)
  set(result)
  foreach(src ${ARGN})
    get_filename_component(abs ${src} ABSOLUTE)
    if(abs MATCHES "\\.cu$")
      file(RELATIVE_PATH rel ${PROJECT_SOURCE_DIR} ${abs})
      string(MAKE_C_IDENTIFIER ${rel} name)
      set(wrapper ${CMAKE_CURRENT_BINARY_DIR}/emulated/${name}.cpp)
      file(CONFIGURE OUTPUT ${wrapper} CONTENT "#include \"${rel}\"\n")
      list(APPEND result ${wrapper})
    else()
      list(APPEND result ${abs})
    endif()
  endforeach()
  set(${out} ${result} PARENT_SCOPE)
endfunction()
