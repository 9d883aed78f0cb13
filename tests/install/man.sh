#!/bin/sh
# man.sh: moetier(1) has a section for every subcommand of `moetier --help`
# and names every flag of each `moetier CMD --help`; moetier-env(7) names
# every variable `moetier doctor --config` lists; the bash completion offers
# every subcommand and a subcommand's flags.
. "$TOP_SRCDIR/tests/lib.sh"
[ -x "$MOETIER" ] || skip "moetier not built ($MOETIER missing)"
page=$TOP_SRCDIR/man/moetier.1
env7=$TOP_BUILDDIR/man/moetier-env.7
[ -f "$env7" ] || fail "$env7 not generated (make builds it)"
# the pages as plain text: roff's \- is a hyphen
sed 's/\\-/-/g' "$page" >"$TMP/moetier.1.txt"
sed 's/\\-/-/g' "$env7" >"$TMP/moetier-env.7.txt"

cmds=$("$MOETIER" --help | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z]*\) .*/\1/p')
[ -n "$cmds" ] || fail "no commands in moetier --help"
missing=
for c in $cmds; do
    grep -q "^\.SS \"moetier $c\( \|\"\)" "$TMP/moetier.1.txt" || missing="$missing $c"
    for f in $("$MOETIER" "$c" --help 2>&1 | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
        [ "$f" = --help ] && continue
        grep -q -- "$f\([^a-z0-9-]\|$\)" "$TMP/moetier.1.txt" || missing="$missing $c:$f"
    done
done
[ -z "$missing" ] || fail "man/moetier.1 lacks:$missing"

vars=$("$MOETIER" doctor --config | sed -n 's/^\(MOETIER_[A-Z_]*\) .*/\1/p')
[ -n "$vars" ] || fail "no variables in moetier doctor --config"
for v in $vars; do
    grep -q "^\.B $v$" "$TMP/moetier-env.7.txt" || missing="$missing $v"
done
[ -z "$missing" ] || fail "moetier-env(7) lacks:$missing"

# the completion, with stand-ins for the bash-completion helpers it calls
comp=$TOP_SRCDIR/packaging/completion/moetier
command -v bash >/dev/null 2>&1 || skip "no bash for the completion"
complete() { # $1: the words on the line; the last is the one completed
    bash -c '
        _init_completion() { cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}
            words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; }
        _filedir() { :; }
        _command_offset() { COMPREPLY=(CMD); }
        compopt() { :; }
        . "$1"
        read -ra COMP_WORDS <<<"$2"
        [[ $2 == *" " ]] && COMP_WORDS+=("")
        COMP_WORDS[0]=$3
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        _moetier
        printf "%s\n" "${COMPREPLY[@]}"' sh "$comp" "$1" "$MOETIER"
}
got=$(complete "moetier " | sort | tr '\n' ' ')
for c in $cmds; do
    case " $got " in *" $c "*) ;; *) fail "completion of 'moetier ' lacks $c (got: $got)" ;; esac
done
got=$(complete "moetier run --d" | tr '\n' ' ')
case " $got " in *" --dram "*) ;; *) fail "completion of 'moetier run --d' lacks --dram (got: $got)" ;; esac
got=$(complete "moetier run --slow " | tr '\n' ' ')
case " $got " in *" numa: "*) ;; *) fail "completion of 'moetier run --slow ' lacks numa: (got: $got)" ;; esac
got=$(complete "moetier run --dram 1G -- " | tr '\n' ' ')
[ "$got" = "CMD " ] || fail "completion after 'moetier run --' does not complete a command (got: $got)"
note "ok: $(echo $cmds | wc -w) commands, $(echo $vars | wc -w) variables"
