#!/usr/bin/env zsh
# capture.zsh FPATH_DIR WORDS...: the candidates zsh's completion system offers
# for the command line WORDS (the cursor at its end), one per line, by driving
# an interactive zsh in a pseudo-terminal (zsh/zpty) and pressing Tab.
zmodload zsh/zpty || exit 3
dir=$1; shift
zpty z zsh -f -i
init=(
  'PS1= PROMPT= RPROMPT='
  "fpath=(${(q)dir} \$fpath)"
  'autoload -U compinit && compinit -u -D'
  'zstyle ":completion:*" list-grouped false'
  'zstyle ":completion:*" insert-tab false'
  'zstyle ":completion:*" list-separator ""'
  # compadd as the completion functions call it: record each match (and only print: nothing is inserted).
  'compadd() { if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return; fi; typeset -a __hits; builtin compadd -A __hits "$@"; local h; for h in $__hits; do print -r -- "<<${IPREFIX}${h}>>"; done }'
  'finish() { print -r -- "<<END>>" }'
  'comppostfuncs=(finish)'
  'print -r -- "<<READY>>"'
)
for l in $init; do zpty -w z "$l"; done
line=
while zpty -r z line; do [[ $line == *'<<READY>>'* && $line != *print* ]] && break; done
zpty -w -n z "$*"$'\t'
typeset -a out
while zpty -r z line; do
  [[ $line == *'<<END>>'* ]] && break
  for m in ${(f)line}; do [[ $m == *'<<'*'>>'* ]] && out+=(${${m#*<<}%>>*}); done
done
zpty -d z
print -l -- ${(u)out}
