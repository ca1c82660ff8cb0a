#!/usr/bin/env bash
# Installs the system packages the test suite needs (Debian 12, run as root):
# - chromium: the viewer's end-to-end tests drive it headless through playwright-core;
# - python3-torch, python3-onnx, python3-pil: the training recipe's smoke test;
# - libopenigtlink-dev, openigtlink-examples, cmake, g++: OpenIGTLink interoperability tests
#   build small programs against the reference library.
set -euo pipefail
packages=(chromium python3-torch python3-onnx python3-pil libopenigtlink-dev openigtlink-examples cmake g++ make)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
echo "system packages: installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
