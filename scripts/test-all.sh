#!/usr/bin/env bash
# Install everything Herald's tests need and run them all: formatting, lints, and every test
# against real parts (git daemon, sshd, an HTTPS git server, SQLite).
# Safe to run again: installs are skipped when already present.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

# Debian packages the tests start as real counterparts, the C libraries git2 links, what the
# control plane build needs (make, curl), what the chart check runs (python3-yaml, pip), the
# Prometheus parser the metrics test reads a scrape with (python3-prometheus-client), the
# PostgreSQL server the store tests start (as an unprivileged user, with runuser), and the
# headless browser the dashboard tests drive over WebDriver (chromium, chromium-driver).
DEBIAN_PACKAGES=(git openssh-server openssh-client openssl python3 python3-yaml python3-pip
  libssl-dev pkg-config ca-certificates make curl postgresql-15 util-linux docker-registry
  apache2-utils python3-prometheus-client chromium chromium-driver)

install_debian_packages() {
  local missing=()
  for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "Debian packages present"
    return
  fi
  log "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

install_debian_packages

# A clean run builds 3.7 GB under target/, and a full disk shows up later as a linker crash:
# say it first.
free_gb=$(df -Pk . | awk 'NR == 2 { print int($4 / 1048576) }')
if [ "$free_gb" -lt 6 ]; then
  printf 'warning: %s GB free; a clean run needs about 5 GB (target/ and test data)\n' "$free_gb" >&2
fi

# A real kube-apiserver, kube-controller-manager and etcd for the cluster tests, built once from
# Debian's packages and cached (about 5 minutes cold).
log "Kubernetes control plane (cached)"
./scripts/control-plane.sh build

log "Helm chart"
./scripts/check-chart.sh

# Tests that need a real part fail instead of skipping when it is missing.
export CI="${CI:-true}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# A full run builds everything once: incremental state would only take disk (2.7 GB cold).
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "cargo test"
cargo test --workspace --locked --no-fail-fast
