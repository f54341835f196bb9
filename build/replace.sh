# Sourced by the build scripts: replace_file SOURCE DEST copies SOURCE to a temporary name in
# DEST's folder (DEST: a file, or a folder to keep SOURCE's name in) and renames it over DEST.
# A running process keeps the old file it has mapped (nginx's workers, the module and the core);
# rewriting it in place (cp) changed the code under them: signal 7 or 11 on the next request.
replace_file() {
    local source=$1 dest=$2
    [ -d "$dest" ] && dest=$dest/$(basename "$source")
    local tmp
    tmp=$(mktemp "$dest.XXXXXX")
    cp "$source" "$tmp" && chmod "$(stat -c %a "$source")" "$tmp" && mv -f "$tmp" "$dest" || {
        rm -f "$tmp"
        return 1
    }
}
