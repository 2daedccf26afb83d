#!/usr/bin/env bash
# Installs what bench/peers needs on a fresh Debian (12, "bookworm") machine, from Debian's packages:
#   python3-torch (PyTorch 1.13.1, with python3-numpy), libtorch-dev (LibTorch 1.13.1 headers and
#   TorchConfig.cmake), libopenblas0-pthread (the BLAS torch uses), cmake and g++ (to build the C++ peer).
# The .NET SDK (global.json) is a prerequisite of the repository, not installed here.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y python3-torch libtorch-dev libopenblas0-pthread cmake g++
/usr/bin/python3 -c 'import torch, numpy; print("torch", torch.__version__, "numpy", numpy.__version__)'
ls /usr/lib/x86_64-linux-gnu/cmake/Torch/TorchConfig.cmake
