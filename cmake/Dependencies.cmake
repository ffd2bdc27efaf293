# Finds everything the project links against. CUDA is optional: without nvcc (or with
# -DRF_WITH_CUDA=OFF) the engine is CPU-only and the CUDA sources are not compiled.

find_package(Threads REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)

# CPU GEMM through the CBLAS API of OpenBLAS, in its OpenMP build (Debian: libopenblas-openmp-dev,
# one of the providers of libopenblas-dev). That build runs on libgomp's thread pool, the same one
# as our own OpenMP loops; the pthread build keeps a second pool whose spinning threads fight ours
# (measured on 2 cores: ResNet50 convolutions 3x slower). Linked by full path, so the build RPATH
# pins it whatever the system's libopenblas alternative is.
find_library(RF_OPENBLAS_LIBRARY openblas
  PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp NO_DEFAULT_PATH)
find_path(CBLAS_INCLUDE_DIR cblas.h
  PATHS /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp NO_DEFAULT_PATH)
if(NOT RF_OPENBLAS_LIBRARY OR NOT CBLAS_INCLUDE_DIR)
  message(FATAL_ERROR "OpenBLAS (OpenMP build) not found: apt-get install libopenblas-openmp-dev")
endif()
add_library(rf_blas INTERFACE)
target_link_libraries(rf_blas INTERFACE ${RF_OPENBLAS_LIBRARY})
target_include_directories(rf_blas INTERFACE ${CBLAS_INCLUDE_DIR})
message(STATUS "OpenBLAS: ${RF_OPENBLAS_LIBRARY}")

# CPU convolutions through oneDNN (Debian libdnnl-dev, built on OpenMP like OpenBLAS above, so one
# thread pool serves all three).
find_path(DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp)
find_library(DNNL_LIBRARY dnnl)
if(NOT DNNL_INCLUDE_DIR OR NOT DNNL_LIBRARY)
  message(FATAL_ERROR "oneDNN not found: apt-get install libdnnl-dev")
endif()
add_library(rf_onednn INTERFACE)
target_link_libraries(rf_onednn INTERFACE ${DNNL_LIBRARY})
target_include_directories(rf_onednn INTERFACE ${DNNL_INCLUDE_DIR})
message(STATUS "oneDNN: ${DNNL_LIBRARY}")

# JSON (Debian nlohmann-json3-dev, header-only); tar/gzip extraction (libarchive-dev); MD5 through
# OpenSSL's EVP interface (libssl-dev, also what libcurl4-openssl-dev builds on).
find_package(nlohmann_json 3.10 REQUIRED)
find_package(LibArchive REQUIRED)
find_package(OpenSSL REQUIRED COMPONENTS Crypto)

# doctest and stb are header-only (Debian: doctest-dev, libstb-dev).
find_path(DOCTEST_INCLUDE_DIR doctest/doctest.h REQUIRED)
find_path(STB_INCLUDE_DIR stb_image.h PATH_SUFFIXES stb REQUIRED)

set(RF_HAVE_CUDA OFF)
if(RF_CUDA_EMULATION)
  if(NOT RF_BUILD_TESTS)
    message(FATAL_ERROR "RF_CUDA_EMULATION needs RF_BUILD_TESTS: the emulation lives in tests/cuda_emulation")
  endif()
  set(RF_HAVE_CUDA ON)  # compiled as C++: no nvcc, no toolkit, no cuDNN
  message(STATUS "CUDA backend: emulated on the host (tests/cuda_emulation)")
elseif(RF_WITH_CUDA)
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 90)
    endif()
    enable_language(CUDA)
    # CMake 3.25 knows no C++20 flag for nvcc, so CUDA_STANDARD 20 would fail at generation.
    if(NOT CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
      set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
      set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
    endif()
    set(CMAKE_CUDA_STANDARD 20)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    find_package(CUDAToolkit REQUIRED)

    # cuDNN: from the CUDA toolkit, or from the hints CUDNN_ROOT / CUDNN_INCLUDE_DIR / CUDNN_LIBRARY
    # (cache variables or environment, as ../shared/device/env.sh exports them).
    foreach(hint CUDNN_ROOT CUDNN_INCLUDE_DIR CUDNN_LIBRARY)
      if(NOT ${hint} AND DEFINED ENV{${hint}})
        set(${hint} $ENV{${hint}})
      endif()
    endforeach()
    find_path(CUDNN_INCLUDE_DIR cudnn.h
      HINTS ${CUDNN_ROOT} ${CUDAToolkit_INCLUDE_DIRS} PATH_SUFFIXES include REQUIRED)
    find_library(CUDNN_LIBRARY cudnn
      HINTS ${CUDNN_ROOT} ${CUDAToolkit_LIBRARY_DIR} PATH_SUFFIXES lib lib64 lib/x86_64-linux-gnu REQUIRED)
    add_library(rf_cudnn INTERFACE)
    target_include_directories(rf_cudnn INTERFACE ${CUDNN_INCLUDE_DIR})
    target_link_libraries(rf_cudnn INTERFACE ${CUDNN_LIBRARY})
    message(STATUS "cuDNN: ${CUDNN_INCLUDE_DIR} ${CUDNN_LIBRARY}")
    set(RF_HAVE_CUDA ON)
  else()
    message(STATUS "nvcc not found: building the CPU backend only")
  endif()
endif()
message(STATUS "CUDA backend: ${RF_HAVE_CUDA}")
