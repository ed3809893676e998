# qdeploy's checked upload (Remote.upload, src/remote/transfer.ts), run as
# `sh -c SCRIPT sh PATH SHA256 MODE gzip|zstd|zstd-patch [BASE]` with the compressed file on
# stdin: decompress into `.incoming-*` beside PATH, check the sha256, chmod, rename. A
# truncated stream fails the decompressor or the sha check, so the rename never happens;
# setup may delete stale `.incoming-*` files. Exit 3 says the sha256 differs.
# zstd-patch: stdin is a zstd patch against the file BASE (zstd --patch-from). Exit 4 says
# this host could not apply it (no BASE, a zstd older than 1.4.5, or a patch that does not fit
# BASE): the client sends the whole file instead.
set -e
umask 077
# The temp file named by the shell, not mktemp, and the path cut by it: each process costs.
# noclobber makes the shell create it new (O_EXCL), as mktemp does: nothing planted under
# that name (a symlink) is written through.
t="${1%/*}/.incoming-$$"
trap 'rm -f -- "$t"' EXIT
trap 'exit 1' HUP INT TERM PIPE
set -C
case "$4" in
  zstd) zstd -dcq > "$t" ;;
  # An old zstd refuses --patch-from before it reads anything.
  zstd-patch) [ -f "$5" ] && zstd -dcq --patch-from="$5" > "$t" || exit 4 ;;
  *) gzip -dc > "$t" ;;
esac
got=$(sha256sum < "$t")
got=${got%% *}
if [ "$got" != "$2" ]; then echo "sha256 mismatch: got $got, expected $2" >&2; exit 3; fi
chmod "$3" "$t"
mv -f -- "$t" "$1"
trap - EXIT
