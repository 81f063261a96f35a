#!/usr/bin/env bash
# Installs what preftune needs on a fresh Debian/Ubuntu machine that already has Go:
# a C compiler for cgo, OpenBLAS for GEMM, oneDNN for bf16 GEMM and OpenMPI for data
# parallelism. Idempotent: installs only what is missing.
set -euo pipefail

need=()
command -v gcc >/dev/null 2>&1 || need+=(gcc)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v ip >/dev/null 2>&1 || need+=(iproute2) # the two-namespace mpirun test
dpkg -s libopenblas-dev >/dev/null 2>&1 || need+=(libopenblas-dev)
# oneDNN: the bf16 GEMM (AVX512-BF16) of the bf16 compute path, loaded at run time
dpkg -s libdnnl2 >/dev/null 2>&1 || need+=(libdnnl2)
# OpenMPI for data-parallel runs (mpirun -np N preftune train …) and their tests; the
# binary loads libmpi at run time, so without it only multi-process training is missing
dpkg -s openmpi-bin >/dev/null 2>&1 || need+=(openmpi-bin)
dpkg -s libopenmpi-dev >/dev/null 2>&1 || need+=(libopenmpi-dev)

if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${need[*]}" >&2
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null; }; then
    # preftune still builds and runs without them: no gcc → pure-Go build (cgo off),
    # no OpenBLAS → the Go GEMM; both are slower, neither is wrong. No OpenMPI → one
    # process (the mpirun tests skip, saying so).
    echo "setup: warning: could not install ${need[*]}; continuing with the pure-Go fallbacks" >&2
  fi
fi
command -v go >/dev/null 2>&1 || { echo "setup: Go is required (https://go.dev/dl/)" >&2; exit 1; }
