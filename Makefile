# vineyard: one non-recursive Makefile.
#   make            build the daemon, the library, the CLI and the tests
#   make run        install packages, build, start vineyardd in the foreground
#   make test       install packages, build, run every test
#   make check      run every test (no package installation): the three below
#   make check-unit     only the C unit tests (tests/unit/)
#   make check-bats     only the bats suites (TESTS='10-*' picks files)
#   make check-python   only the Python package's tests (PYTEST_ARGS=...)
#   make asan       every test under AddressSanitizer + UBSan
#   make tsan       the concurrent tests under ThreadSanitizer
#   make bench      benchmarks (tests/bench/)
#   make soak       64 clients x 10,000 checked operations (tests/soak/)
#   make fuzz       build and briefly run the libFuzzer targets (clang)
#   make install    PREFIX=/usr/local DESTDIR=
#   make pytest     pytest's own output for the Python package (PYTEST_ARGS=...)
# V=1 shows commands; DEVELOPER=1 adds -Werror; SANITIZE=address,undefined.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
# Debian's interpreter has numpy/pandas/pytest from apt; a pyenv one may not.
PYTHON ?= /usr/bin/python3
# Where `make install` puts the Python package (Debian's python3 looks in
# /usr/local/lib/python3/dist-packages and /usr/lib/python3/dist-packages).
PYTHONDIR ?= $(PREFIX)/lib/python3/dist-packages
BUILD ?= build
# The Python package's directories under client/python (make install).
PY_PACKAGES = vineyard vineyard/core vineyard/data vineyard/shared_memory vineyard/io
RUN_DIR ?= /tmp/vineyard-run
RUN_SOCKET ?= $(RUN_DIR)/vineyard.sock
RUN_MOUNT ?= $(RUN_DIR)/mnt
# Huge pages make puts of large blobs several times faster on VMs where page
# faults are slow (see the README's Performance section); needs root.
RUN_OPTS ?= --huge-pages enable

# The one place the version is written: C sees it as VY_VERSION (below),
# the pkg-config file and `make -s version` print it, libvineyard returns it
# from vy_version() (the Python package reads it there).
VERSION = 0.1.0
SOVERSION = 0

CC ?= cc
PKGS = libcbor liblz4
CFLAGS ?= -O2 -g
WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wcast-qual -Wno-unused-parameter
VERSION_DEF = -DVY_VERSION='"$(VERSION)"'
ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE $(VERSION_DEF) -fPIC $(WARN) $(CFLAGS) \
	$(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(INC) -MMD -MP
# Each target sees only the headers of its own job: the wire folder is shared;
# the daemon adds src/ and fs/; the client library only its own folder, so it
# cannot include a daemon header (the compiler proves it).
WIRE_INC = -Isrc/wire
CORE_INC = -Isrc $(WIRE_INC) -Ifs
LIB_INC = $(WIRE_INC) -Iclient/lib
INC = $(CORE_INC)
ifdef DEVELOPER
ALL_CFLAGS += -Werror
endif
ifdef SANITIZE
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SANITIZE)
endif
LIBS_CBOR = $(shell pkg-config --libs libcbor 2>/dev/null || echo -lcbor)
LIBS_LZ4 = $(shell pkg-config --libs liblz4 2>/dev/null || echo -llz4)
LIBS = $(LIBS_CBOR) -lpthread
# The core (daemon and unit tests) also needs lz4; the client library does not.
# The cluster (src/cluster/) talks to etcd with libcurl and jansson.
LIBS_CLUSTER = $(shell pkg-config --libs libcurl jansson 2>/dev/null || echo -lcurl -ljansson) -lxxhash
CORE_LIBS = $(LIBS_CBOR) $(LIBS_LZ4) $(LIBS_CLUSTER) -lpthread
# FUSE: only fs/ includes it and only vineyardd links it.
FUSE_CFLAGS = $(shell pkg-config --cflags fuse3 2>/dev/null || echo -I/usr/include/fuse3)
LIBS_FUSE = $(shell pkg-config --libs fuse3 2>/dev/null || echo -lfuse3)

ifeq ($(V),1)
Q =
else
Q = @
endif

# The wire contract (src/wire/): compiled once, linked into the daemon, the
# unit tests and libvineyard alike.
WIRE_SRC = src/wire/cborio.c src/wire/proto.c src/wire/fdpass.c \
	src/wire/idtab.c src/wire/meta.c src/wire/status.c src/wire/human.c \
	src/wire/hugemap.c
# The core, shared by vineyardd and the unit tests; no socket, no FUSE.
CORE_SRC = src/log.c src/xmalloc.c src/arena.c src/slab.c src/names.c \
	src/store.c src/store_pin.c src/store_blob.c src/store_object.c \
	src/store_list.c src/store_pjob.c src/store_decide.c src/store_writer.c \
	src/store_loader.c src/store_restore.c src/store_reserve.c \
	src/store_spill.c src/store_perm.c src/store_adopt.c src/stream.c \
	src/stream_mount.c src/stream_persist.c src/diskfmt.c src/persist.c \
	src/persist_write.c src/persist_read.c src/persist_log.c \
	src/cluster/b64.c src/cluster/etcd.c src/cluster/etcd_kv.c \
	src/cluster/etcd_watch.c src/cluster/kvmap.c \
	src/cluster/cluster.c src/cluster/cluster_thread.c src/cluster/node.c src/cluster/node_reply.c \
	src/cluster/global.c src/cluster/record.c \
	src/cluster/fetch.c src/cluster/transfer_conn.c src/cluster/transfer_blob.c
# The socket front (src/server_int.h says which file does what); the fuzz
# targets link it too.
SERVER_SRC = src/loop.c src/server.c src/server_conn.c src/server_reply.c \
	src/server_blobmap.c \
	src/req_session.c src/req_blobs.c src/req_objects.c src/req_names.c \
	src/req_cluster.c src/req_copy.c src/req_spill.c src/req_streams.c \
	src/req_transfer.c src/server_tcp.c
DAEMON_SRC = $(SERVER_SRC) src/main.c src/options.c src/cluster/attach.c
# The FUSE view (issue 3), linked into vineyardd only.
FS_SRC = fs/fs.c fs/inode.c fs/ops_dir.c fs/ops_readdir.c fs/attr.c fs/ops_file.c fs/passthrough.c \
	fs/remote.c fs/fs_stream.c
# libvineyard (client/lib/) and vineyardctl (client/ctl/).
LIB_SRC = client/lib/client.c client/lib/status.c client/lib/blob.c client/lib/meta_build.c \
	client/lib/object_put.c client/lib/object_get.c client/lib/object_access.c \
	client/lib/names.c client/lib/cluster.c client/lib/copy.c client/lib/stream.c \
	client/lib/migrate.c
CLI_SRC = client/ctl/ctl.c client/ctl/ctl_util.c client/ctl/ctl_put.c \
	client/ctl/ctl_stream.c \
	client/ctl/ctl_get.c client/ctl/ctl_list.c client/ctl/ctl_name.c \
	client/ctl/ctl_rm.c client/ctl/ctl_persist.c client/ctl/ctl_status.c \
	client/ctl/ctl_cluster.c client/ctl/ctl_chmod.c \
	client/ctl/ctl_migrate.c client/ctl/ctl_spill.c
UNIT_SRC = $(wildcard tests/unit/t_*.c)

WIRE_OBJ = $(WIRE_SRC:%.c=$(BUILD)/%.o)
CORE_OBJ = $(CORE_SRC:%.c=$(BUILD)/%.o) $(WIRE_OBJ)
DAEMON_OBJ = $(DAEMON_SRC:%.c=$(BUILD)/%.o)
FS_OBJ = $(FS_SRC:%.c=$(BUILD)/%.o)
LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/%.o) $(WIRE_OBJ)
CLI_OBJ = $(CLI_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_BIN = $(BUILD)/bench/bench_core

# Small real clients the bats tests drive (tests/bats/20-client.bats).
HELPER_SRC = $(wildcard tests/helpers/*.c)
HELPER_BIN = $(HELPER_SRC:tests/helpers/%.c=$(BUILD)/tests/helpers/%)

VYCORE = $(BUILD)/libvycore.a
DAEMON = $(BUILD)/vineyardd
CLI = $(BUILD)/vineyardctl
LIBSO = $(BUILD)/libvineyard.so.$(SOVERSION)
LIBA = $(BUILD)/libvineyard.a
PCFILE = $(BUILD)/vineyard.pc

all: $(DAEMON) $(CLI) $(LIBSO) $(LIBA) $(PCFILE) $(UNIT_BIN) $(HELPER_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Library and wire objects: hidden by default, exported through the
# version script (hidden symbols change nothing for the daemon's static link).
$(LIB_OBJ) $(WIRE_OBJ): ALL_CFLAGS += -fvisibility=hidden
$(LIB_OBJ): INC = $(LIB_INC)
$(CLI_OBJ): INC = $(LIB_INC)

$(VYCORE): $(CORE_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

$(FS_OBJ): ALL_CFLAGS += $(FUSE_CFLAGS)

$(DAEMON): $(DAEMON_OBJ) $(FS_OBJ) $(VYCORE)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $(DAEMON_OBJ) $(FS_OBJ) $(VYCORE) $(LIBS_FUSE) $(CORE_LIBS)

$(LIBSO): $(LIB_OBJ) client/lib/libvineyard.map
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS) -shared -Wl,-soname,libvineyard.so.$(SOVERSION) \
		-Wl,--version-script=client/lib/libvineyard.map -o $@ $(LIB_OBJ) $(LIBS)
	$(Q)ln -sf libvineyard.so.$(SOVERSION) $(BUILD)/libvineyard.so

$(LIBA): $(LIB_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

# The pkg-config file, written by one command for the build tree and again
# at install time, so that `make install PREFIX=...` records the PREFIX the
# files really go to (a copy made at build time kept the default).
PC_WRITE = printf 'prefix=%s\nlibdir=%s\nincludedir=%s\n\nName: vineyard\nDescription: client library of the vineyard shared-memory object store\nVersion: %s\nRequires.private: libcbor\nLibs: -L$${libdir} -lvineyard\nLibs.private: -lpthread\nCflags: -I$${includedir}\n' \
		'$(PREFIX)' '$(LIBDIR)' '$(INCLUDEDIR)' '$(VERSION)'

$(PCFILE): Makefile
	@mkdir -p $(BUILD)
	$(Q)$(PC_WRITE) > $@

$(CLI): $(CLI_OBJ) $(LIBA)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(LIBA) $(LIBS)

$(BUILD)/tests/t_%: tests/unit/t_%.c $(VYCORE) tests/unit/test.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(VYCORE) $(CORE_LIBS)

# fs/inode.c has no FUSE in it: its unit test links just that object.
$(BUILD)/tests/t_fs_inode: tests/unit/t_fs_inode.c $(BUILD)/fs/inode.o $(VYCORE) tests/unit/test.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/fs/inode.o $(VYCORE) $(LIBS)

# Benchmarks link the static library: no LD_LIBRARY_PATH needed.
$(BENCH_BIN): INC = $(LIB_INC)
$(BUILD)/bench/%: tests/bench/%.c $(LIBA) client/lib/vineyard.h tests/helpers/timing.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  BENCH   $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIBA) $(LIBS)

# Helpers link the shared library (so they see only the exported API) and,
# for the few that speak the wire protocol by hand, the core's internals.
$(HELPER_BIN): INC = $(CORE_INC) -Iclient/lib
$(BUILD)/tests/helpers/%: tests/helpers/%.c tests/helpers/helpers.h tests/helpers/rawio.h tests/helpers/timing.h $(LIBSO) $(VYCORE)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  HELPER  $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< -L$(BUILD) -lvineyard \
		-Wl,-rpath,$(abspath $(BUILD)) $(VYCORE) $(CORE_LIBS)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# The objects that show VY_VERSION are rebuilt when VERSION changes: the
# stamp is rewritten only then.
VERSION_OBJ = $(BUILD)/src/main.o $(BUILD)/src/req_session.o \
	$(BUILD)/client/lib/client.o $(BUILD)/client/lib/status.o \
	$(BUILD)/client/ctl/ctl.o
$(VERSION_OBJ): $(BUILD)/version.stamp
$(BUILD)/version.stamp: FORCE
	@mkdir -p $(BUILD)
	@echo '$(VERSION)' | cmp -s - $@ || echo '$(VERSION)' > $@
FORCE:

# ---- fuzzing (clang + libFuzzer) ----
# Every tests/fuzz/fuzz_NAME.c is a target linked with the core and the
# socket server; its seeds are tests/fuzz/corpus/NAME/. `make fuzz` runs
# each for FUZZ_TIME seconds; new inputs and crashes go to build-fuzz/.
FUZZ_CC ?= clang
FUZZ_TIME ?= 30
FUZZ_BUILD = build-fuzz
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS = -std=gnu11 -D_GNU_SOURCE $(VERSION_DEF) -g -O1 -fno-omit-frame-pointer \
	$(shell pkg-config --cflags $(PKGS) 2>/dev/null) -Isrc -Isrc/wire
FUZZ_SRC = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN = $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_OBJ = $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(CORE_SRC) $(WIRE_SRC) \
	$(SERVER_SRC))

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJ)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $< \
		$(FUZZ_OBJ) $(CORE_LIBS)

# Keep the objects between runs (make would delete them as intermediates).
.SECONDARY: $(FUZZ_OBJ)

fuzz-build: $(FUZZ_BIN)

# Rewrites the seed corpora (tests/fuzz/mkcorpus.c says when that is needed).
fuzz-corpus: $(VYCORE)
	@mkdir -p $(FUZZ_BUILD) tests/fuzz/corpus/proto tests/fuzz/corpus/meta
	$(Q)$(CC) $(ALL_CFLAGS) -o $(FUZZ_BUILD)/mkcorpus tests/fuzz/mkcorpus.c \
		$(VYCORE) $(CORE_LIBS)
	$(Q)$(FUZZ_BUILD)/mkcorpus

fuzz: fuzz-build
	@for f in $(FUZZ_BIN); do \
		n=$${f##*/fuzz_}; mkdir -p $(FUZZ_BUILD)/corpus/$$n; \
		echo "== fuzz_$$n for $(FUZZ_TIME) s"; \
		d=; [ -f tests/fuzz/$$n.dict ] && d=-dict=tests/fuzz/$$n.dict; \
		$$f -max_total_time=$(FUZZ_TIME) -print_final_stats=1 $$d \
			-artifact_prefix=$(FUZZ_BUILD)/fuzz_$$n- \
			$(FUZZ_BUILD)/corpus/$$n tests/fuzz/corpus/$$n \
			2>$(FUZZ_BUILD)/fuzz_$$n.log || \
			{ tail -50 $(FUZZ_BUILD)/fuzz_$$n.log; exit 1; }; \
		grep -E '^stat::number_of_executed_units|^Done' \
			$(FUZZ_BUILD)/fuzz_$$n.log; \
	done

# ---- packages ----
# Every command a test, script, benchmark or .ci/run uses comes from one of
# these (a minimal Debian 12 has only the Essential set: coreutils, bash,
# grep, sed, findutils, diffutils, tar, util-linux, dpkg): procps for ps,
# e2fsprogs for chattr, mount for mount/umount, mawk for awk, curl and
# iproute2 (ss) for the etcd helper and the cluster and TCP tests, bc and
# redis-tools for the benchmarks.
DEB_PKGS = build-essential pkg-config libcbor-dev liblz4-dev lz4 libfuse3-dev \
	fuse3 bats python3 python3-numpy python3-pandas python3-pytest \
	python3-pip python3-setuptools python3-wheel python3-venv \
	mandoc redis-server redis-tools clang libclang-rt-14-dev valgrind \
	etcd-server etcd-client libcurl4-openssl-dev libjansson-dev libxxhash-dev \
	procps e2fsprogs mount mawk curl iproute2 bc util-linux
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$missing; \
	fi

# ---- running ----
run: deps all
	@mkdir -p $(RUN_DIR)
	@# (a stale mount left by a killed run cannot be stat'ed; vineyardd
	@# takes it over)
	@mkdir -p $(RUN_MOUNT) 2>/dev/null || true
	@echo "vineyardd on $(RUN_SOCKET), the store mounted at $(RUN_MOUNT); in another terminal:"
	@echo "  export VINEYARD_IPC_SOCKET=$(RUN_SOCKET) PATH=$(CURDIR)/$(BUILD):\$$PATH"
	@echo "  export PYTHONPATH=$(CURDIR)/client/python    # for python3 -c 'import vineyard'"
	@echo "  ls $(RUN_MOUNT)/objects; cat $(RUN_MOUNT)/status.json"
	$(DAEMON) --foreground --socket $(RUN_SOCKET) --mount $(RUN_MOUNT) $(RUN_OPTS)

version:
	@echo $(VERSION)

# ---- tests ----
test: deps
	$(MAKE) check

# One summary line, `N passed, N failed`, for any of these. TESTS='10-*'
# picks bats files (and, for `make check`, leaves pytest out);
# PYTEST_ARGS='-k x' narrows pytest (both reach the script from make's
# command line or the environment).
RUN_TESTS = PYTHON=$(PYTHON) BUILD=$(BUILD) scripts/run-tests.sh

check: all
	@$(RUN_TESTS)

check-unit: $(UNIT_BIN)
	@$(RUN_TESTS) unit

check-bats: all
	@$(RUN_TESTS) bats

check-python: $(LIBSO) $(DAEMON)
	@$(RUN_TESTS) python

asan:
	$(MAKE) BUILD=build-asan SANITIZE=address,undefined check

# The tests that run threads against each other, under ThreadSanitizer
# (scripts/run-tsan.sh says which).
tsan:
	$(MAKE) BUILD=build-tsan SANITIZE=thread all
	@PYTHON=$(PYTHON) BUILD=build-tsan scripts/run-tsan.sh

# The Python package runs from client/python over this build's library.
pytest: all
	PYTHONPATH=$(CURDIR)/client/python VY_BUILD=$(CURDIR)/$(BUILD) \
	VINEYARD_LIBRARY=$(CURDIR)/$(LIBSO) VINEYARDD=$(CURDIR)/$(DAEMON) \
		$(PYTHON) -m pytest -q -p no:cacheprovider tests/python $(PYTEST_ARGS)

bench: all $(BENCH_BIN)
	@PYTHON=$(PYTHON) BUILD=$(BUILD) tests/bench/run.sh

# Long mixed load with checksums (tests/soak/); not part of check.
SOAK_BIN = $(BUILD)/soak/soak
$(SOAK_BIN): INC = $(LIB_INC)
$(SOAK_BIN): tests/soak/soak.c $(LIBA) client/lib/vineyard.h tests/helpers/timing.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  SOAK    $@")
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/helpers $(LDFLAGS) -o $@ $< $(LIBA) $(LIBS)

soak: all $(SOAK_BIN)
	@BUILD=$(BUILD) tests/soak/run.sh

man-lint:
	@for m in man/*.[1-8]; do mandoc -Tlint -Wwarning $$m || exit 1; done; echo "man pages ok"

# ---- install ----
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBDIR) \
		$(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(MANDIR)/man8
	install -m 755 $(DAEMON) $(DESTDIR)$(SBINDIR)/vineyardd
	install -m 755 $(CLI) $(DESTDIR)$(BINDIR)/vineyardctl
	install -m 755 $(LIBSO) $(DESTDIR)$(LIBDIR)/libvineyard.so.$(SOVERSION)
	ln -sf libvineyard.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libvineyard.so
	install -m 644 $(LIBA) $(DESTDIR)$(LIBDIR)/libvineyard.a
	sed 's/^#define VY_VERSION (vy_version())$$/#define VY_VERSION "$(VERSION)"/' \
		client/lib/vineyard.h > $(DESTDIR)$(INCLUDEDIR)/vineyard.h
	chmod 644 $(DESTDIR)$(INCLUDEDIR)/vineyard.h
	$(PC_WRITE) > $(DESTDIR)$(PKGCONFIGDIR)/vineyard.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/vineyard.pc
	for m in man/*.[1-8]; do [ -e "$$m" ] || continue; s=$${m##*.}; \
		install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done
	# The Python package, told where the library and the daemon went.
	for d in $(PY_PACKAGES); do install -d $(DESTDIR)$(PYTHONDIR)/$$d && \
		install -m 644 client/python/$$d/*.py $(DESTDIR)$(PYTHONDIR)/$$d/ || exit 1; done
	printf '"""Written by make install."""\nLIBDIR = "%s"\nSBINDIR = "%s"\n' \
		'$(LIBDIR)' '$(SBINDIR)' > $(DESTDIR)$(PYTHONDIR)/vineyard/_config.py

clean:
	rm -rf build build-asan build-tsan build-fuzz

.PHONY: FORCE all deps run version test check check-unit check-bats check-python \
	asan tsan pytest bench soak man-lint install clean fuzz fuzz-build fuzz-corpus
