# Sourced by the ensure-*.sh scripts: how Kesu installs a Debian package it
# needs on a fresh machine (root, or sudo when there is one).

# as_root runs a command as root: directly when we are root, else with sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    echo "need root or sudo to run: $*" >&2
    return 1
  fi
}

# apt_install installs packages without their recommendations.
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -q
  as_root apt-get install -y -q --no-install-recommends "$@"
}
