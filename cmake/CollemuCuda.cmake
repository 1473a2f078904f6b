# The CUDA set-up shared by the whole project and the solver's standalone build (models/solver/CMakeLists.txt):
# COLLEMU_ENABLE_CUDA defaults to on where nvcc is found; sm_90 (Hopper: H100/H200) machine code plus compute_90 PTX,
# which newer GPUs JIT-compile.
include(CheckLanguage)
check_language(CUDA)
set(_collemu_cuda_default OFF)
if(CMAKE_CUDA_COMPILER)
  set(_collemu_cuda_default ON)
endif()
option(COLLEMU_ENABLE_CUDA "Build the CUDA rate-solver backend (on where nvcc is found)" ${_collemu_cuda_default})
if(COLLEMU_ENABLE_CUDA)
  if(NOT CMAKE_CUDA_COMPILER)
    message(FATAL_ERROR "COLLEMU_ENABLE_CUDA=ON but no CUDA compiler (nvcc) was found")
  endif()
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 90-real 90-virtual)
  endif()
  enable_language(CUDA)
  # The CUDA sources are C++20 like the rest (CMAKE_CXX_STANDARD carries over to CUDA). CMake 3.25 (Debian 12) does
  # not know nvcc's flag for it and refuses to generate: tell it.
  if(NOT CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
    set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
    set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
    list(APPEND CMAKE_CUDA_COMPILE_FEATURES cuda_std_20)
  endif()
endif()
