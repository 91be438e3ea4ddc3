#!/usr/bin/env bash
# Installs what Nabla's main job and tests need on Debian: the Fashion-MNIST IDX files (package dataset-fashion-mnist).
set -euo pipefail
if [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || [ -n "${NABLA_DATA:-}" ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null
