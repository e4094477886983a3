# bash completion for tuntunctl (installed as
# $(BASHCOMPDIR)/tuntunctl). Verbs are static; link names come from the
# running daemon (`tuntunctl status --json`) and plugin names from
# `tuntunctl plugins --json`, asked over the same socket the command line
# names (-s/--socket, else $TUNTUNTUN_SOCKET, else the default, else the
# only socket in /run/tuntuntun/ of tuntuntun@.service). A daemon that is
# not running just means no names are offered.

# Prints the socket options of the line being completed (-s X / --socket=X).
_tuntunctl_sockopt()
{
	local i
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-s | --socket)
			[ $((i + 1)) -lt "$COMP_CWORD" ] && printf -- '-s\n%s\n' "${COMP_WORDS[i + 1]}"
			return
			;;
		--socket=*)
			printf -- '-s\n%s\n' "${COMP_WORDS[i]#--socket=}"
			return
			;;
		esac
	done
}

# _tuntunctl_ask VERB KEYS: every "name" that the JSON reply of VERB has
# right before one of KEYS, an extended regex (links: "name":"dsl","id";
# plugins: "name":"x","file", the built-in "name":"builtin-rr","version").
_tuntunctl_ask()
{
	local -a sock units
	mapfile -t sock < <(_tuntunctl_sockopt)
	# No -s, no $TUNTUNTUN_SOCKET, no default socket: the one daemon run
	# by tuntuntun@.service, if there is exactly one.
	if [ ${#sock[@]} -eq 0 ] && [ -z "${TUNTUNTUN_SOCKET:-}" ] && [ ! -S /run/tuntuntun.sock ]; then
		units=(/run/tuntuntun/*.sock)
		[ ${#units[@]} -eq 1 ] && [ -S "${units[0]}" ] && sock=(-s "${units[0]}")
	fi
	timeout 2 "${COMP_WORDS[0]}" "${sock[@]}" "$1" --json 2>/dev/null |
		grep -oE "\"name\":\"[^\"]*\",\"($2)\"" |
		sed -e 's/^"name":"//' -e 's/",.*$//' | sort -u
}

_tuntunctl()
{
	local cur prev verb i
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	local verbs="status watch plugins scheduler link genkey raw help"

	# The verb is the first word that is not an option or its argument.
	local vi=0
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-s | --socket) ((i++)) ;;
		-*) ;;
		*)
			vi=$i
			break
			;;
		esac
	done

	if [ "$vi" -eq 0 ]; then
		case $prev in
		-s | --socket)
			COMPREPLY=($(compgen -f -- "$cur"))
			return
			;;
		esac
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-s --socket -h --help -V --version" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$verbs" -- "$cur"))
		fi
		return
	fi

	verb=${COMP_WORDS[vi]}
	local n=$((COMP_CWORD - vi)) # position of cur after the verb (1 = first)
	case $verb in
	status)
		[ "$n" -eq 1 ] && COMPREPLY=($(compgen -W "--json --wide --help" -- "$cur"))
		;;
	plugins)
		[ "$n" -eq 1 ] && COMPREPLY=($(compgen -W "--json --help" -- "$cur"))
		;;
	watch)
		case $prev in
		-i | -n) return ;;
		esac
		COMPREPLY=($(compgen -W "-i -n --wide --json --help" -- "$cur"))
		;;
	scheduler)
		case $n in
		1) COMPREPLY=($(compgen -W "set" -- "$cur")) ;;
		2) COMPREPLY=($(compgen -W "upstream downstream" -- "$cur")) ;;
		3) COMPREPLY=($(compgen -W "$(_tuntunctl_ask plugins "file|version")" -- "$cur")) ;;
		esac
		;;
	link)
		case $n in
		1) COMPREPLY=($(compgen -W "$(_tuntunctl_ask status id)" -- "$cur")) ;;
		2) COMPREPLY=($(compgen -W "up down" -- "$cur")) ;;
		esac
		;;
	genkey)
		[ "$n" -eq 1 ] && COMPREPLY=($(compgen -f -- "$cur"))
		;;
	esac
}
complete -F _tuntunctl tuntunctl
