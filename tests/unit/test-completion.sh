#!/bin/bash
# SPDX-License-Identifier: MIT
# test-completion.sh GEN COMPLETION_DIR - telerun's generated completions against the one option table
# (cli/telerun-options.c, listed by `GEN list` as "VERB --OPTION" lines): bash offers every option of every
# verb and none of another verb's, and the arguments' words; fish the same through `complete -C`; zsh's
# file parses and names every option in its verb's section. TAP.
set -uo pipefail

GEN=$1
DIR=$2
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $*"; }
skip() { n=$((n + 1)); echo "ok $n - # SKIP $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }

mapfile -t pairs < <("$GEN" list)
[ ${#pairs[@]} -gt 20 ] || { echo "Bail out! '$GEN list' printed ${#pairs[@]} pairs"; exit 1; }

# bash: COMPREPLY for a command line whose last word is the cursor's (no bash-completion needed).
bash_complete() {
        bash --norc --noprofile -c '
                source "$1"; shift
                COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
                _telerun
                printf "%s\n" "${COMPREPLY[@]}"' bash "$DIR/telerun" "$@"
}

check "bash: the file parses" bash -n "$DIR/telerun"
missing=
for p in "${pairs[@]}"; do
        read -r verb opt <<< "$p"
        bash_complete telerun "$verb" "$opt" | grep -qx -- "$opt" || missing+=" $verb:$opt"
done
check "bash: every option of every verb is offered (${#pairs[@]} pairs)${missing:+, missing:$missing}" test -z "$missing"
check "bash: telerun run --profile big --mem<TAB> offers --memory" \
        test "$(bash_complete telerun run --profile big --mem)" = "--memory"
check "bash: status --mem offers nothing (not a status option)" test -z "$(bash_complete telerun status --mem)"
check "bash: run --cpu <TAB> offers 150%" grep -qx '150%' <(bash_complete telerun run --cpu '')
check "bash: list --json=p offers --json=pretty" test "$(bash_complete telerun list --json=p)" = "--json=pretty"
check "bash: verbs before a global option's argument" \
        grep -qx 'status' <(bash_complete telerun --addr h:1 st)
check "bash: the job's own options are not ours" test -z "$(bash_complete telerun run ls --mem)"

# Job ids and remote names come from telerun itself, asked in the same mode as the command line: a stand-in
# that prints its arguments (joined with '_') as the one candidate.
FAKE=$(mktemp -d)
trap 'rm -rf "$FAKE"' EXIT
printf '#!/bin/sh\nIFS=_; echo "$*"\n' > "$FAKE/telerun"
chmod +x "$FAKE/telerun"
check "bash: job ids from '--remote prod list --quiet'" \
        test "$(bash_complete "$FAKE/telerun" --remote prod status '')" = "--remote_prod_list_--quiet"
check "bash: job ids from '--addr=h:1 list --quiet'" \
        test "$(bash_complete "$FAKE/telerun" --addr=h:1 logs -f '')" = "--addr=h:1_list_--quiet"
check "bash: --remote offers local and the remotes" \
        grep -qx 'remote_ls_--quiet' <(bash_complete "$FAKE/telerun" --remote '')
check "bash: remote use offers the remotes" \
        grep -qx 'remote_ls_--quiet' <(bash_complete "$FAKE/telerun" remote use '')
check "bash: remote offers its subcommands" test "$(bash_complete "$FAKE/telerun" remote u)" = "use"

if command -v fish > /dev/null; then
        check "fish: the file parses" fish -n "$DIR/telerun.fish"
        # one fish for every pair: prints the pairs it does not offer
        missing=$(printf '%s\n' "${pairs[@]}" | fish -c '
                source $argv[1]
                while read -l verb opt
                        complete -C "telerun $verb $opt" | string match -q -r -- "^$opt(\t|\$)"; or echo "$verb:$opt"
                end' "$DIR/telerun.fish" | tr '\n' ' ')
        check "fish: every option of every verb is offered${missing:+, missing: $missing}" test -z "$missing"
        check "fish: job ids from '--remote prod list --quiet'" \
                grep -qx -- '--remote_prod_list_--quiet' <(fish -c 'source $argv[1]; complete -C "$argv[2] --remote prod status "' \
                                                           "$DIR/telerun.fish" "$FAKE/telerun" | cut -f1)
        check "fish: telerun run --profile big --mem<TAB> offers --memory" \
                grep -q '^--memory' <(fish -c 'source $argv[1]; complete -C "telerun run --profile big --mem"' \
                                      "$DIR/telerun.fish")
else
        skip "fish is not installed"
fi

if command -v zsh > /dev/null; then
        check "zsh: the file parses" zsh -n "$DIR/_telerun"
        missing=
        for p in "${pairs[@]}"; do
                read -r verb opt <<< "$p"
                # the verb's arm of the case, or the global array
                if awk -v v="                $verb)" -v o="'$opt" '
                        $0 == v { inside = 1; next }
                        inside && index($0, o) { found = 1 }
                        inside && /;;$/ { inside = 0 }
                        /global_opts=\(/ { global = 1; next }
                        global && index($0, o) { found = 1 }
                        global && /^ *\)$/ { global = 0 }
                        END { exit !found }' "$DIR/_telerun"; then :; else missing+=" $verb:$opt"; fi
        done
        check "zsh: every option of every verb is in its section${missing:+, missing:$missing}" test -z "$missing"
        # A real interactive zsh on a pseudo-terminal (zsh/zpty): compinit finds _telerun in $DIR (its first line
        # must be #compdef), TAB completes; true when the screen shows the expected text within 10 s.
        zsh_complete() {
                zsh -f -c '
                        zmodload zsh/zpty || exit 2
                        zpty z zsh -f -i
                        zpty -w z "fpath=($1 \$fpath); autoload -Uz compinit; compinit -u -D; PS1=\">\""
                        zpty -w z "bindkey \"^I\" complete-word"
                        zpty -wn z "$2"$'"'"'\t'"'"'
                        out= deadline=$((SECONDS + 10))
                        while ((SECONDS < deadline)); do
                                zpty -rt z chunk && out+=$chunk || sleep 0.1
                                [[ $out == *"$3"* ]] && { zpty -d z; exit 0; }
                        done
                        zpty -d z
                        exit 1' zsh "$DIR" "$1" "$2"
        }
        check "zsh: telerun run --profile big --mem<TAB> completes --memory" \
                zsh_complete "telerun run --profile big --mem" "--memory"
        check "zsh: telerun logs --ta<TAB> completes --tail" zsh_complete "telerun logs --ta" "--tail"
        check "zsh: telerun run --no-private-t<TAB> completes --no-private-tmp" \
                zsh_complete "telerun run --no-private-t" "--no-private-tmp"
        check "zsh: telerun sta<TAB> lists start and status" zsh_complete "telerun sta" "status"
else
        skip "zsh is not installed"
fi

echo "1..$n"
exit $failed
