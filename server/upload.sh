# qdeploy's checked upload (Remote.upload, src/remote/transfer.ts), run as
# `sh -c SCRIPT sh PATH SHA256 MODE gzip|zstd` with the compressed file on stdin: decompress
# into `.incoming-*` beside PATH, check the sha256, chmod, rename. A truncated stream fails
# the decompressor or the sha check, so the rename never happens; setup may delete stale
# `.incoming-*` files. Exit 3 says the sha256 differs.
set -e
umask 077
t=$(mktemp "$(dirname -- "$1")/.incoming-XXXXXX")
trap 'rm -f -- "$t"' EXIT
trap 'exit 1' HUP INT TERM PIPE
case "$4" in
  zstd) zstd -dcq > "$t" ;;
  *) gzip -dc > "$t" ;;
esac
got=$(sha256sum < "$t" | cut -d" " -f1)
if [ "$got" != "$2" ]; then echo "sha256 mismatch: got $got, expected $2" >&2; exit 3; fi
chmod "$3" "$t"
mv -f -- "$t" "$1"
trap - EXIT
