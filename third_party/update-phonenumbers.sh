#!/bin/sh
# Make a lazily-initialised copy of github.com/nyaruka/phonenumbers v1.8.1.
#
#   update-phonenumbers.sh TARGET_DIR            patched copy, without tests/testdata/cmd/docs
#   KEEP_TESTS=1 update-phonenumbers.sh TARGET   patched copy with the full test suite
#
# The pristine module is taken from the Go module cache (go mod download
# fetches and verifies it if it is not there yet); TARGET_DIR must not exist.
set -eu

target=${1:-$(cd "$(dirname "$0")" && pwd)/phonenumbers}
patchfile=$(cd "$(dirname "$0")" && pwd)/phonenumbers-lazy-init.patch
mod=github.com/nyaruka/phonenumbers@v1.8.1

if [ -e "$target" ]; then
	echo "update-phonenumbers.sh: $target already exists" >&2
	exit 1
fi

src=$(cd / && GOFLAGS=-mod=mod go mod download -json "$mod" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
if [ -z "$src" ] || [ ! -f "$src/go.mod" ]; then
	echo "update-phonenumbers.sh: cannot locate $mod in the module cache" >&2
	exit 1
fi

mkdir -p "$(dirname "$target")"
cp -R "$src" "$target"
chmod -R u+w "$target"
cd "$target"
patch -p1 -E --forward --no-backup-if-mismatch < "$patchfile"

if [ "${KEEP_TESTS:-}" != 1 ]; then
	# Not used by the library build (data/ is embedded and must stay;
	# LICENSE and README.md are kept).
	rm -rf cmd docs testdata .github .goreleaser.yml
	find . -name '*_test.go' -type f -delete
fi

go build ./...
echo "update-phonenumbers.sh: patched $mod in $target"
