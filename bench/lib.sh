# Shell functions the benchmarks share (sourced by bench/overhead.sh and
# bench/lua.sh).

# verdict VALUE OP LIMIT: PASS when VALUE OP LIMIT holds (awk's comparison,
# so decimals compare as numbers), else FAIL.
verdict() {
  if awk -v v="$1" -v l="$3" "BEGIN { exit !(v $2 l) }"; then echo PASS; else echo FAIL; fi
}
