#!/usr/bin/env bash
# The README's main job: install Fashion-MNIST if it is missing, build, and train the default CNN.
# Extra arguments go to `nabla train` (e.g. --epochs 1).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
dotnet build src/Nabla.Cli -c Release --nologo -v quiet
# Not exec'd: the training process then starts after the install and the build, so the cold start its metrics.json
# records (first_step_seconds, from process start) is the command's own, not the build's (an exec'd run reported 12.7 s).
scripts/nabla train --data fashion-mnist --model cnn "$@"
