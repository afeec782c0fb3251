# bash completion for pushctl                                     -*- shell-script -*-
# Installed as /usr/share/bash-completion/completions/pushctl. Completes the subcommands, their
# options and the global ones, files for --config, --socket, --secret-file and --data @FILE, and
# room ids (kick: member ids too) from the sidecar itself: `pushctl rooms --json` with the
# --socket or --config already typed, half a second at most, nothing when no sidecar answers.
# The option lists below are checked against `pushctl SUB --help` by tests/integration/
# test_pushctl.py, so a new option that is not added here fails a test.

_pushctl_globals="--help --version --config --socket --json --timeout --app-url"
_pushctl_subcommands="publish rooms room history tail stats kick reload token jobs"
# Options that take a value: the word after them is that value, not a subcommand or room.
_pushctl_valued="--config --socket --timeout --app-url --event --data --id --since --limit --count --ttl --secret-file --user --info --room --status"

_pushctl_options() {
    case $1 in
        publish) echo "--event --data --id --lines" ;;
        rooms | room) echo "--cluster" ;;
        history) echo "--since --limit" ;;
        tail) echo "--since --count" ;;
        stats) echo "--prometheus" ;;
        kick | reload) ;;
        token) echo "--ttl --secret-file --user --publish --presence --info" ;;
        jobs) echo "list show cancel retry" ;;
        "jobs list") echo "--room --status --limit" ;;
    esac
}

# What the subcommand's positional number $2 (1 = the first after its name) is: room, member or
# nothing.
_pushctl_positional() {
    case $1:$2 in
        publish:1 | room:1 | history:1 | kick:1 | token:1) echo room ;;
        tail:*) echo room ;;
        kick:2) echo member ;;
    esac
}

# Asks the sidecar; "$@" is the --socket/--config of the command line. Silent when it fails.
_pushctl_ask() {
    local program=${_pushctl_program:-pushctl}
    command -v "$program" >/dev/null 2>&1 || return 0
    "$program" "$@" --timeout 500 --json 2>/dev/null
}

_pushctl_rooms() {
    _pushctl_ask "$@" rooms | grep -o '"room":"[^"]*"' | sed 's/^"room":"//; s/"$//'
}

# _pushctl_members ROOM ARGS...: the member ids `pushctl room ROOM` lists.
_pushctl_members() {
    local room=$1
    shift
    _pushctl_ask "$@" room "$room" | grep -o '"id":[0-9]*' | sed 's/^"id"://'
}

_pushctl() {
    local cur prev words cword _pushctl_program
    if declare -F _get_comp_words_by_ref >/dev/null; then
        # bash-completion: "--socket=/x" and "team-7:a" stay one word.
        _get_comp_words_by_ref -n =: cur prev words cword
    else
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
        cur=${words[cword]}
        prev=${words[cword - 1]}
    fi
    _pushctl_program=${words[0]}
    COMPREPLY=()

    # The subcommand, the connection options and the positionals typed so far.
    local i word sub="" position=0 first_positional="" connection=()
    for ((i = 1; i < cword; i++)); do
        word=${words[i]}
        case " $_pushctl_valued " in
        *" $word "*)
            [[ ${words[i + 1]} == "=" ]] && ((i++))  # --socket = PATH, split by COMP_WORDBREAKS
            if ((i + 1 < cword)) && [[ $word == --socket || $word == --config ]]; then
                connection+=("$word" "${words[i + 1]}")
            fi
            ((i++))
            continue
            ;;
        esac
        case $word in
        --socket=* | --config=*) connection+=("$word") ;;
        -*) ;;
        *)
            if [[ -z $sub ]]; then
                sub=$word
            else
                ((position++))
                [[ -z $first_positional ]] && first_positional=$word
            fi
            ;;
        esac
    done

    [[ $prev == "=" ]] && prev=${words[cword - 2]}
    case $prev in
    --config | --socket | --secret-file)
        compopt -o filenames 2>/dev/null
        COMPREPLY=($(compgen -f -- "$cur"))
        return 0
        ;;
    --data)
        if [[ $cur == @* ]]; then
            compopt -o filenames 2>/dev/null
            COMPREPLY=($(compgen -f -P @ -- "${cur#@}"))
        fi
        return 0
        ;;
    --ttl)
        COMPREPLY=($(compgen -W "90s 15m 1h 1d 7d" -- "$cur"))
        return 0
        ;;
    --status)
        COMPREPLY=($(compgen -W "queued running done failed cancelled" -- "$cur"))
        return 0
        ;;
    --timeout | --event | --id | --since | --limit | --count | --app-url | --room)
        return 0
        ;;
    esac

    if [[ -z $sub ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$_pushctl_globals" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$_pushctl_subcommands" -- "$cur"))
        fi
        return 0
    fi
    local options
    if [[ $sub == jobs && -n $first_positional ]]; then
        options="$(_pushctl_options "jobs $first_positional") $_pushctl_globals"
    else
        options="$(_pushctl_options "$sub") $_pushctl_globals"
    fi
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$options" -- "$cur"))
        return 0
    fi
    case $(_pushctl_positional "$sub" $((position + 1))) in
    room) COMPREPLY=($(compgen -W "$(_pushctl_rooms "${connection[@]}")" -- "$cur")) ;;
    member)
        COMPREPLY=($(compgen -W "$(_pushctl_members "$first_positional" "${connection[@]}")" -- "$cur"))
        ;;
    *) COMPREPLY=($(compgen -W "$options" -- "$cur")) ;;
    esac
    if declare -F __ltrim_colon_completions >/dev/null; then
        __ltrim_colon_completions "$cur"
    fi
    return 0
}
complete -F _pushctl pushctl
