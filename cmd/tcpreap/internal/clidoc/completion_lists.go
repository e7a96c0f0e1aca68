package clidoc

// What the scripts list as they complete, for each List: one POSIX sh
// script of each, which every shell's function runs (sh -c), so that the
// three shells list the same.

// netnsScript lists the names of ip netns, then pid:.
const netnsScript = `for ns in /run/netns/*; do [ -e "$ns" ] && echo "${ns##*/}"; done; echo pid:`

// interfacesScript lists the interfaces of the namespace $1 names as
// --netns does, or of its own when $1 is empty: a process's through
// /proc/PID/net/dev, which anyone may read; a name of ip netns through ip
// -n, which needs root (else nothing).
const interfacesScript = `case $1 in
'') dev=/proc/self/net/dev ;;
pid:*) dev=/proc/${1#pid:}/net/dev ;;
/proc/*/ns/net) dev=${1%/ns/net}/net/dev ;;
*/*) exit 0 ;;
*) ip -n "$1" -o link show 2>/dev/null | sed 's/^[0-9]*: \([^:@]*\).*/\1/'; exit 0 ;;
esac
sed -n '3,$s/^ *\([^:]*\):.*/\1/p' "$dev" 2>/dev/null`

// bashLists are the functions of bash's script that list (_tcpreap_netns,
// _tcpreap_interfaces); --netns is found in COMP_LINE, split at spaces
// (COMP_WORDS splits pid:1 at its colon).
var bashLists = `_tcpreap_netns() {
    sh -c ` + shellQuote(netnsScript) + `
}
_tcpreap_interfaces() {
    local ns= words i
    read -ra words <<<"$COMP_LINE"
    for ((i = 1; i < ${#words[@]}; i++)); do
        case ${words[i]} in
        --netns) ns=${words[i+1]-} ;;
        --netns=*) ns=${words[i]#--netns=} ;;
        esac
    done
    sh -c ` + shellQuote(interfacesScript) + ` sh "$ns"
}
`

// zshLists are zsh's: pid: is offered without a space after it, and a
// path (/proc/PID/ns/net) is completed as files.
var zshLists = `
_tcpreap_netns() {
    local -a names
    names=(${(f)"$(sh -c ` + shellQuote(netnsScript) + `)"})
    compadd -a - 'names[1,-2]'
    compadd -S '' - pid:
    [[ $PREFIX == /* ]] && _files
}

_tcpreap_interfaces() {
    local ns= i
    for ((i = 1; i < $#words; i++)); do
        case $words[i] in
        --netns) ns=$words[i+1] ;;
        --netns=*) ns=${words[i]#--netns=} ;;
        esac
    done
    compadd - ${(f)"$(sh -c ` + shellQuote(interfacesScript) + ` sh "$ns")"}
}
`

// fishLists are fish's (fish adds no space after a word ending in ":").
var fishLists = `
function __tcpreap_netns
    sh -c ` + fishQuote(netnsScript) + `
end

function __tcpreap_interfaces
    set -l words (commandline -opc)
    set -l ns
    for i in (seq 2 (count $words))
        switch $words[$i]
            case --netns
                set ns $words[(math $i + 1)]
            case '--netns=*'
                set ns (string replace -- --netns= '' $words[$i])
        end
    end
    sh -c ` + fishQuote(interfacesScript) + ` sh "$ns"
end
`
