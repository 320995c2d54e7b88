# Shared by scripts/demo and scripts/test: a virtualenv in .venv with the project installed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "Creating the virtualenv in .venv"
  "$PYTHON" -m venv .venv
fi
# Reinstall only when pyproject.toml changed since the last install.
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[test]"
  rm -f .venv/.installed-* && touch "$stamp"
fi
export PATH="$ROOT/.venv/bin:$PATH"
# The web pages' libraries from npm (package.json), reinstalled only when the lock file changed.
npm_stamp=node_modules/.installed-$(sha256sum package-lock.json | cut -c1-16)
if [ ! -f "$npm_stamp" ]; then
  if ! command -v npm >/dev/null; then
    echo "npm (Node.js 18 or newer) is needed to install the web pages' libraries from package.json." >&2
    exit 1
  fi
  echo "Installing the web pages' libraries into node_modules"
  npm ci --no-audit --no-fund --loglevel=error
  touch "$npm_stamp"
fi
