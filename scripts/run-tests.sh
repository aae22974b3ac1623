#!/usr/bin/env bash
# Runs every test: C unit tests, bats (command line, daemon, filesystem) and
# pytest (Python package), then prints one line: "N passed, N failed".
# Environment: BUILD (build dir, default build), PYTHON (interpreter with
# numpy, pandas and pytest; default /usr/bin/python3), TESTS (a glob of
# bats files to run instead of all, e.g. TESTS='10-*').
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
export VY_BUILD=$(cd "$BUILD" && pwd)
export PYTHON
passed=0 failed=0
failures=()

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

echo "== unit tests"
for t in "$VY_BUILD"/tests/t_*; do
	[ -x "$t" ] || continue
	# A non-zero exit after all "ok" lines is a sanitizer report (a leak
	# found at exit): count it as a failure too.
	out=$("$t" 2>&1)
	rc=$?
	count_tap "$(basename "$t")" <<<"$out"
	if [ "$rc" -ne 0 ] && ! grep -q '^not ok' <<<"$out"; then
		echo "not ok $(basename "$t") exited $rc"
		failed=$((failed + 1))
		failures+=("$(basename "$t"): exited $rc (sanitizer report above?)")
	fi
done

echo "== bats"
if command -v bats >/dev/null; then
	files=$(ls tests/bats/${TESTS:-*}.bats 2>/dev/null)
	if [ -n "$files" ]; then
		count_tap bats < <(bats --tap $files 2>&1)
	fi
else
	echo "bats not installed"; failed=$((failed + 1))
fi

if [ -d tests/python ] && [ -z "${TESTS:-}" ]; then
	echo "== pytest"
	if "$PYTHON" -c 'import pytest' 2>/dev/null; then
		# The package of this tree over this build's library and daemon.
		export PYTHONPATH=$PWD/client/python${PYTHONPATH:+:$PYTHONPATH}
		export VINEYARD_LIBRARY=$VY_BUILD/libvineyard.so.0
		export VINEYARDD=$VY_BUILD/vineyardd
		# An ASan build of the library needs its runtime loaded before
		# Python, which never frees everything: no leak checks for the
		# interpreter (the daemons it starts keep them).
		pypre= pyasan=${ASAN_OPTIONS:-}
		export VY_DAEMON_ASAN_OPTIONS=${ASAN_OPTIONS:-}
		if ldd "$VINEYARD_LIBRARY" 2>/dev/null | grep -q libasan; then
			pypre="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
			pyasan=detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}
		fi
		# One line per test in a TAP-like form so the counts add up.
		count_tap pytest < <(LD_PRELOAD=$pypre ASAN_OPTIONS=$pyasan \
			"$PYTHON" -m pytest -q -p no:cacheprovider \
			-rA tests/python 2>&1 | sed -n \
			-e 's/^PASSED \(.*\)/ok \1/p' -e 's/^FAILED \(.*\)/not ok \1/p' \
			-e 's/^ERROR \(.*\)/not ok \1/p' -e '/^=\+ .* in [0-9.]*s/p' -e '/Error/p')
	else
		echo "pytest not importable by $PYTHON"; failed=$((failed + 1))
	fi
fi

if [ ${#failures[@]} -gt 0 ]; then
	echo "== failures"
	printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
