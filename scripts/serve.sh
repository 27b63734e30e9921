#!/usr/bin/env bash
# Command 1 of the README: install what is needed, build, and serve gantry on
# embedded defaults at http://127.0.0.1:${PORT:-8080} with data in ${DATA:-data}.
# Pass a config with CONFIG=path/to/gantry.yaml (see examples/gantry.yaml).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
bash scripts/setup.sh
GANTRY_BUILD_TESTS=OFF bash scripts/build.sh release
# The default models (docs/models.md) into $GANTRY_MODELS or ./models; skipped when
# present. SKIP_MODELS=1 serves without them (a config with remote providers only).
if [ "${SKIP_MODELS:-0}" != 1 ]; then
  ./build/gantry models pull
fi
args=(serve --port "${PORT:-8080}" --data "${DATA:-data}")
[ -n "${CONFIG:-}" ] && args+=(--config "$CONFIG")
echo "gantry: serving on http://127.0.0.1:${PORT:-8080} (Ctrl-C to stop)"
exec ./build/gantry "${args[@]}"
