# qdeploy's atomic file write (Remote.write, src/remote/transfer.ts), run as
# `sh -c SCRIPT sh PATH MODE LENGTH` with the content on stdin: only the path, the mode and
# the length are on the command line. A temp file beside PATH, its byte count checked, then
# the rename.
set -e
umask 077
t=$(mktemp "$(dirname -- "$1")/.incoming-XXXXXX")
trap 'rm -f -- "$t"' EXIT
trap 'exit 1' HUP INT TERM PIPE
cat > "$t"
n=$(wc -c < "$t")
# An EOF before the whole content (connection lost) must not replace the file.
[ "$n" -eq "$3" ] || { echo "received $n of $3 bytes; $1 left unchanged" >&2; exit 1; }
chmod "$2" "$t"
mv -f -- "$t" "$1"
trap - EXIT
