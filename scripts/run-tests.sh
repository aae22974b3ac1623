#!/usr/bin/env bash
# Runs the tests: C unit tests, bats (command line, daemon, filesystem) and
# pytest (Python package), then prints one line: "N passed, N failed".
# Usage: scripts/run-tests.sh [unit] [bats] [python]
#   runs the suites named, default all three (`make check-unit`,
#   `make check-bats`, `make check-python`, `make check`). A suite named
#   that runs no test at all counts as a failure.
# Environment: BUILD (build dir, default build), PYTHON (interpreter with
# numpy, pandas and pytest; default /usr/bin/python3), TESTS (a glob of
# bats files to run instead of all, e.g. TESTS='10-*'; with no suite named
# it also leaves pytest out), PYTEST_ARGS (more pytest arguments, e.g.
# '-k roundtrip'), SUITE_TIMEOUT (seconds a suite may take, default 2400).
set -u
cd "$(dirname "$0")/.."
for s in "$@"; do
	case "$s" in
	unit|bats|python) ;;
	*) echo "usage: $0 [unit] [bats] [python]" >&2; exit 2 ;;
	esac
done
if [ $# -gt 0 ]; then
	suites="$*"
elif [ -n "${TESTS:-}" ]; then
	suites="unit bats"
else
	suites="unit bats python"
fi
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
if ! VY_BUILD=$(cd "$BUILD" 2>/dev/null && pwd); then
	echo "no build directory '$BUILD': run make first" >&2
	echo "0 passed, 1 failed"
	exit 1
fi
export VY_BUILD PYTHON
# Each suite's bound in seconds (SUITE_TIMEOUT), far above a normal run.
SUITE_TIMEOUT=${SUITE_TIMEOUT:-2400}
passed=0 failed=0
failures=()

# timed_out RC: true when RC is timeout(1)'s (the suite passed its bound).
TIMED_OUT="over ${SUITE_TIMEOUT}s: a test, or a process one left behind, hung"
timed_out() { [ "$1" -eq 124 ] || [ "$1" -eq 137 ]; }

count_tap() { # reads TAP on stdin, echoes it, counts ok / not ok
	local line
	while IFS= read -r line; do
		printf '%s\n' "$line"
		case "$line" in
		"not ok"*) failed=$((failed + 1)); failures+=("$1: ${line#not ok }") ;;
		"ok"*) passed=$((passed + 1)) ;;
		esac
	done
}

fail_suite() { # suite, reason
	echo "not ok $1: $2"
	failed=$((failed + 1))
	failures+=("$1: $2")
}

run_unit() {
	local t out rc
	for t in "$VY_BUILD"/tests/t_*; do
		[ -x "$t" ] || continue
		# A non-zero exit after all "ok" lines is a sanitizer report (a
		# leak found at exit): count it as a failure too.
		out=$("$t" 2>&1)
		rc=$?
		count_tap "$(basename "$t")" <<<"$out"
		if [ "$rc" -ne 0 ] && ! grep -q '^not ok' <<<"$out"; then
			fail_suite "$(basename "$t")" "exited $rc (sanitizer report above?)"
		fi
	done
}

run_bats() {
	local files
	if ! command -v bats >/dev/null; then
		fail_suite bats "bats not installed"
		return
	fi
	files=$(ls tests/bats/${TESTS:-*}.bats 2>/dev/null)
	if [ -z "$files" ]; then
		fail_suite bats "no file matches tests/bats/${TESTS:-*}.bats"
		return
	fi
	# Bounded: a process a test leaves behind holding bats' output would
	# otherwise hang the run with no word of which test did it.
	count_tap bats < <(timeout -k 30 "$SUITE_TIMEOUT" bats --tap $files 2>&1
		timed_out $? && echo "not ok bats: $TIMED_OUT")
}

run_python() {
	local pypre pyasan pyargs
	if ! "$PYTHON" -c 'import pytest' 2>/dev/null; then
		fail_suite pytest "pytest not importable by $PYTHON"
		return
	fi
	# The package of this tree over this build's library and daemon.
	export PYTHONPATH=$PWD/client/python${PYTHONPATH:+:$PYTHONPATH}
	export VINEYARD_LIBRARY=$VY_BUILD/libvineyard.so.0
	export VINEYARDD=$VY_BUILD/vineyardd
	# An ASan build of the library needs its runtime loaded before Python,
	# which never frees everything: no leak checks for the interpreter (the
	# daemons it starts keep them).
	pypre= pyasan=${ASAN_OPTIONS:-}
	export VY_DAEMON_ASAN_OPTIONS=${ASAN_OPTIONS:-}
	if ldd "$VINEYARD_LIBRARY" 2>/dev/null | grep -q libasan; then
		pypre="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
		pyasan=detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}
	fi
	# PYTEST_ARGS as the shell would split it, quotes included, as
	# `make pytest` passes it: -k 'a or b' stays two words.
	eval "pyargs=(${PYTEST_ARGS:-})" || { fail_suite pytest "bad PYTEST_ARGS"; return; }
	# One line per test in a TAP-like form so the counts add up.
	count_tap pytest < <({ LD_PRELOAD=$pypre ASAN_OPTIONS=$pyasan \
		timeout -k 30 "$SUITE_TIMEOUT" "$PYTHON" -m pytest -q -p no:cacheprovider \
		-rA tests/python "${pyargs[@]}"; timed_out $? && echo "FAILED pytest: $TIMED_OUT"; } 2>&1 | sed -n \
		-e 's/^PASSED \(.*\)/ok \1/p' -e 's/^FAILED \(.*\)/not ok \1/p' \
		-e 's/^ERROR \(.*\)/not ok \1/p' -e '/^=\+ .* in [0-9.]*s/p' -e '/Error/p')
}

for s in $suites; do
	before=$((passed + failed))
	case "$s" in
	unit) echo "== unit tests"; run_unit ;;
	bats) echo "== bats"; run_bats ;;
	python) echo "== pytest"; run_python ;;
	esac
	[ $((passed + failed)) -gt "$before" ] || fail_suite "$s" "no test ran"
done

if [ ${#failures[@]} -gt 0 ]; then
	echo "== failures"
	printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
