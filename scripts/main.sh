#!/usr/bin/env bash
# The README's main job: install Fashion-MNIST if it is missing, build, and train the default CNN.
# Extra arguments go to `nabla train` (e.g. --epochs 1).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
dotnet build src/Nabla.Cli -c Release --nologo -v quiet
exec scripts/nabla train --data fashion-mnist --model cnn "$@"
