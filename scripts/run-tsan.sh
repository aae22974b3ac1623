#!/usr/bin/env bash
# make tsan: the tests that run threads against each other, on a build
# made with -fsanitize=thread (BUILD, default build-tsan):
#   - every C unit test (the store's persist writer and loader threads);
#   - bats 20-client (the concurrent client helper: threads sharing one
#     connection, others with their own, against the daemon's threads),
#     30-fs (the FUSE workers and notifier against store changes) and
#     40-persist and 42-grouplog (the disk threads under kill -9, full
#     disks, restores; group logs applied beside the request thread);
#   - pytest's thread and fork tests, the Python client being shared by
#     threads over the instrumented library.
# Every process writes its reports to one directory; the run fails when
# there is any, and prints them. tests/tsan.supp lists what is
# suppressed, each with its reason.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-tsan}
OUT=$(mktemp -d "${TMPDIR:-/tmp}/vineyard-tsan.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
export TSAN_OPTIONS="log_path=$OUT/report second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp${TSAN_OPTIONS:+ $TSAN_OPTIONS}"
export BUILD

rc=0
TESTS='[234][02]-*' scripts/run-tests.sh || rc=1

echo "== pytest (threads and fork)"
PY=${PYTHON:-/usr/bin/python3}
if ! "$PY" -c 'import pytest' 2>/dev/null; then
	echo "pytest not importable by $PY"
	rc=1
else
	# The interpreter is not instrumented: the runtime goes in first.
	LD_PRELOAD=$(gcc -print-file-name=libtsan.so) \
	PYTHONPATH=$PWD/client/python VY_BUILD=$PWD/$BUILD \
	VINEYARD_LIBRARY=$PWD/$BUILD/libvineyard.so.0 \
	VINEYARDD=$PWD/$BUILD/vineyardd \
		"$PY" -m pytest -q -p no:cacheprovider \
		tests/python/test_concurrency.py tests/python/test_fork.py || rc=1
fi

reports=$(ls "$OUT" 2>/dev/null | wc -l)
if [ "$reports" -gt 0 ]; then
	echo "== ThreadSanitizer reports: $reports files"
	for f in "$OUT"/*; do
		echo "---- $f"
		cat "$f"
	done
	rc=1
fi
echo "tsan: $reports report files; tests $([ $rc = 0 ] && echo passed || echo FAILED)"
exit $rc
