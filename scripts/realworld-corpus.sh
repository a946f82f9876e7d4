#!/usr/bin/env bash
# Gathers the real-world PDF corpus for the pdftext recall benchmark
# (PDFTEXT_REALWORLD=<dir> go test -run TestRealWorldRecall ./internal/pdftext).
# Nothing here is written by us: the PDFs are the documentation that Debian
# packages ship and the sample PDFs inside Go modules this repository already
# depends on, so a fresh Debian bookworm machine with network access to its
# apt mirror can rebuild the same set. The PDFs are not committed; the
# manifest (source, file, sha256, licence note) is, as
# scripts/realworld-corpus.MANIFEST.tsv.
#
# Usage: scripts/realworld-corpus.sh [DIR]   (default: data/realworld, gitignored)
# Needs: apt-get, dpkg-deb, go, sha256sum. Run from the repository root.
set -euo pipefail

DIR=${1:-data/realworld}
PER_PKG=${PER_PKG:-20}   # cap per Debian package, so no single producer dominates
PER_DIR=${PER_DIR:-3}    # cap per directory of Go module samples (many are near-duplicates)
CACHE=${CACHE:-${DIR}/.debs}

# Documentation packages that ship PDFs, chosen for variety of producers
# (pdfTeX, XeTeX, LuaTeX, dvipdfmx, Ghostscript, FOP/dblatex, groff) and of
# languages/scripts (Arabic, Persian, Urdu, Cyrillic, Chinese, Greek-free
# European languages, Polish, Czech, Italian, Spanish, Portuguese, German).
# texlive-latex-base-doc is left out: ../shared/corpus already uses it.
PACKAGES=(
  texlive-lang-arabic texlive-lang-cyrillic texlive-lang-chinese
  texlive-lang-european texlive-lang-polish texlive-lang-czechslovak
  texlive-lang-italian texlive-lang-spanish texlive-lang-portuguese
  texlive-lang-german texlive-fonts-recommended-doc
  fonts-cwtex-docs auto-multiple-choice-doc-pdf docbook-xsl-doc-pdf
  ghostscript-doc camlidl-doc gri-pdf-doc freefem-doc dblatex-doc
)

mkdir -p "$DIR" "$CACHE"
DIR=$(cd "$DIR" && pwd)
CACHE=$(cd "$CACHE" && pwd)
MANIFEST="$DIR/MANIFEST.tsv"
printf 'file\tsource\tpath\tsha256\tlicence\n' >"$MANIFEST"
declare -A SEEN=()

# add FILE SOURCE RELPATH LICENCE: copy one PDF in under a flat, stable name,
# skipping byte-identical duplicates.
add() {
  local src=$1 source=$2 rel=$3 lic=$4
  local sum name
  sum=$(sha256sum "$src" | cut -c1-64)
  [[ -n ${SEEN[$sum]:-} ]] && return 0
  SEEN[$sum]=1
  name="${source//[^A-Za-z0-9._-]/_}__${rel//[^A-Za-z0-9._-]/_}"
  [[ $name == *.pdf || $name == *.PDF ]] || name="$name.pdf"
  cp "$src" "$DIR/$name"
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$source" "$rel" "$sum" "$lic" >>"$MANIFEST"
}

# licence_of ROOT PKG: the distinct License: names in the package's
# debian/copyright (machine-readable) or a note to read it.
licence_of() {
  local c="$1/usr/share/doc/$2/copyright"
  if [[ -f $c ]] && grep -q '^License:' "$c"; then
    grep '^License:' "$c" | sed 's/^License: *//' | sort -u | head -8 | paste -sd ';' -
  else
    echo "see /usr/share/doc/$2/copyright"
  fi
}

for pkg in "${PACKAGES[@]}"; do
  if ! ls "$CACHE/${pkg}"_*.deb >/dev/null 2>&1; then
    (cd "$CACHE" && apt-get download -q "$pkg" 2>/dev/null) || { echo "skip $pkg: not downloadable" >&2; continue; }
  fi
  deb=$(ls "$CACHE/${pkg}"_*.deb | head -1)
  root=$(mktemp -d)
  dpkg-deb -x "$deb" "$root"
  lic=$(licence_of "$root" "$pkg")
  ver=$(dpkg-deb -f "$deb" Version)
  n=0
  # Compressed PDFs (.pdf.gz) are real documents too.
  while IFS= read -r f; do
    [[ $n -ge $PER_PKG ]] && break
    rel=${f#"$root"/}
    if [[ $f == *.gz ]]; then
      gunzip -c "$f" >"$root/.tmp.pdf" || continue
      add "$root/.tmp.pdf" "debian:$pkg=$ver" "${rel%.gz}" "$lic"
    else
      add "$f" "debian:$pkg=$ver" "$rel" "$lic"
    fi
    n=$((n + 1))
  done < <(find "$root" \( -iname '*.pdf' -o -iname '*.pdf.gz' \) -type f | LC_ALL=C sort)
  echo "$pkg: $n PDFs" >&2
  rm -rf "$root"
done

# Go modules in go.mod that carry sample PDFs. pdfcpu's pkg/testdata is
# left out: TestRecallPdfcpuTestdata already reads it.
gomod() {
  local mod=$1 sub=$2 lic=$3
  local dir
  dir=$(go list -m -f '{{.Dir}}' "$mod")/$sub
  [[ -d $dir ]] || { echo "skip $mod/$sub: not in the module cache (go mod download)" >&2; return 0; }
  local ver n=0
  ver=$(go list -m -f '{{.Version}}' "$mod")
  declare -A per=()
  while IFS= read -r f; do
    local d=${f%/*}
    per[$d]=$(( ${per[$d]:-0} + 1 ))
    [[ ${per[$d]} -gt $PER_DIR ]] && continue
    add "$f" "go:$mod@$ver" "$sub/${f#"$dir"/}" "$lic"
    n=$((n + 1))
  done < <(find "$dir" -iname '*.pdf' -type f | LC_ALL=C sort)
  echo "$mod/$sub: $n PDFs" >&2
}
gomod github.com/pdfcpu/pdfcpu pkg/samples "Apache-2.0 (pdfcpu repository)"
gomod github.com/tmc/langchaingo documentloaders/testdata "MIT (langchaingo repository)"

echo "$(($(wc -l <"$MANIFEST") - 1)) PDFs in $DIR (manifest: $MANIFEST)" >&2
