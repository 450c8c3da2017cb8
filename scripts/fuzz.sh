#!/usr/bin/env bash
# fuzz.sh GO FUZZTIME PKG:FUZZFUNC...: runs each fuzz target for FUZZTIME,
# one after another. A run that found nothing but ended with the fuzzing
# engine's own "context deadline exceeded" (its workers were slow to stop
# when the time was up, on a busy machine) is run once
# more; a real failure (an input written to testdata/fuzz) fails at once.
set -uo pipefail
go=$1 fuzztime=$2
shift 2
for t in "$@"; do
  pkg=${t%%:*} fn=${t##*:}
  for try in 1 2; do
    echo "fuzz $fn ($pkg) for $fuzztime"
    out=$("$go" test -run '^$' -fuzz "^$fn\$" -fuzztime "$fuzztime" "$pkg" 2>&1)
    rc=$?
    printf '%s\n' "$out"
    [ $rc -eq 0 ] && break
    if [ $try -eq 1 ] && grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input written' <<<"$out"; then
      echo "fuzz $fn: the engine timed out stopping its workers, not a finding; once more"
      continue
    fi
    exit $rc
  done
done
