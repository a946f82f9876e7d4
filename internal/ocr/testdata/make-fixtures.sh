#!/bin/sh
# Regenerates the image-only PDFs beside this script from the shared
# corpus's digital originals, in the encodings scanners produce that the
# tests do not make themselves (JPEG/DCT fixtures are built by the tests):
# CCITT G4 (bilevel fax, via a G4 TIFF) and Flate (lossless 8-bit gray).
# Needs poppler-utils, libtiff-tools and img2pdf (Debian packages).
# JBIG2: Debian ships no encoder (jbig2enc); TestJBIG2Scan wraps the G4
# fixture's data in JBIG2 MMR segments at test time instead.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
corpus="$here/../../../../shared/corpus"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

g4() { # NAME PAGE DPI
	pdftoppm -r "$3" -mono -f "$2" -l "$2" -singlefile "$corpus/$1.pdf" "$tmp/p"
	ppm2tiff -c g4 -R "$3" "$tmp/p.pbm" "$tmp/p.tif"
	img2pdf "$tmp/p.tif" -o "$here/$1-p$2-ccitt-g4-$3dpi.pdf"
}
flate() { # NAME PAGE DPI
	# pdftoppm -png writes RGB even with -gray; its PGM stays 8-bit gray.
	pdftoppm -r "$3" -gray -f "$2" -l "$2" -singlefile "$corpus/$1.pdf" "$tmp/p"
	img2pdf --imgsize "$3"dpi "$tmp/p.pgm" -o "$here/$1-p$2-flate-gray-$3dpi.pdf"
}

g4 tender-notice 2 200
g4 circular-hindi 2 200
flate circular-water 2 200
