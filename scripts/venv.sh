# Sourced by scripts/test and scripts/demo: make (or reuse) the checkout's own venv.
# Stock Debian's python3 refuses `pip install` outside a venv, and ships without the venv
# module until python3-venv is installed: install it when we can (root or sudo).
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  if ! "$PY" -m venv .venv 2>/dev/null; then
    rm -rf .venv
    if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
    echo "installing python3-venv (Debian's python3 needs it for a venv)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    "$PY" -m venv .venv
  fi
fi
