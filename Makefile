# attestd — top-level build. See README.md ("Building and testing").
#
# Sources are found by wildcard so that adding a module is adding a file:
#   attest/*.c -> build/libattest.a      daemon/*.c (not main.c) -> build/libdaemon.a
#   sigstore/*.c -> build/libsigstore.a  bpf/*.bpf.c -> build/bpf/*.skel.h
#   tests/unit/test_*.c -> one cmocka binary each; tests/fuzz/fuzz_*.c -> one libFuzzer each.

CC        ?= cc
CLANG     ?= clang
BPFTOOL   ?= bpftool
PYTHON    ?= /usr/bin/python3
BUILD     ?= build
VMLINUX_H ?=

ARCH_BPF  := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
VERSION   := $(shell git describe --always --dirty 2>/dev/null || echo 0.1.0)

WARN      := -Wall -Wextra -Werror -Wno-unused-parameter -Wno-format-truncation
# clang has no -Wformat-truncation; tell it not to fail on the unknown -Wno- flag.
ifneq ($(shell $(CC) --version 2>/dev/null | grep -c clang),0)
WARN      += -Wno-unknown-warning-option
endif
CSTD      := -std=c17 -D_GNU_SOURCE
CFLAGS    ?= -O2 -g
PKGS      := libbpf libelf zlib yaml-0.1 jansson libcurl openssl libnghttp2
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = $(CSTD) $(WARN) $(CFLAGS) $(EXTRA_CFLAGS) -I. -I$(BUILD) $(PKG_CFLAGS) \
	     -DATTESTD_VERSION='"$(VERSION)"'
LDLIBS    := $(PKG_LIBS) -lpthread

ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

BPF_SRCS    := $(wildcard bpf/*.bpf.c)
BPF_OBJS    := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
BPF_SKELS   := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.skel.h,$(BPF_SRCS))
ATTEST_SRCS := $(wildcard attest/*.c)
DAEMON_SRCS := $(filter-out daemon/main.c,$(wildcard daemon/*.c))
DAEMON_ASM  := $(wildcard daemon/*.S)
SIGSTORE_SRCS := $(wildcard sigstore/*.c)
UNIT_SRCS   := $(wildcard tests/unit/test_*.c)
FUZZ_SRCS   := $(wildcard tests/fuzz/fuzz_*.c)
BENCH_SRCS  := $(wildcard tests/bench/bench_*.c)
HDRS        := $(wildcard bpf/*.h attest/*.h daemon/*.h sigstore/*.h tools/*.h tests/unit/*.h \
		tests/fuzz/*.h)

lib_objs = $(patsubst %.c,$(1)/obj/%.o,$(2))
ATTEST_OBJS   = $(call lib_objs,$(BUILD),$(ATTEST_SRCS))
DAEMON_OBJS   = $(call lib_objs,$(BUILD),$(DAEMON_SRCS)) $(patsubst %.S,$(BUILD)/obj/%.o,$(DAEMON_ASM))
SIGSTORE_OBJS = $(call lib_objs,$(BUILD),$(SIGSTORE_SRCS))
LIBS = $(BUILD)/libdaemon.a $(BUILD)/libattest.a $(if $(SIGSTORE_SRCS),$(BUILD)/libsigstore.a)

UNIT_BINS  = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
BENCH_BINS = $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))

.SECONDARY:
.PHONY: all deps asan test unit unit-asan e2e kernels fuzz fuzz-smoke bench run fmt fmt-check clean

all: $(BUILD)/attestd $(BUILD)/attestctl $(BUILD)/tests/peer_client $(BUILD)/tests/runtime_lookup \
	$(BUILD)/tests/sigstore_conformance $(BUILD)/tests/oci_fetch \
	$(BUILD)/tests/sigstore_signer

# ---- dependencies -------------------------------------------------------------------------
deps:
	@./tests/tools/install-deps

# ---- BPF ----------------------------------------------------------------------------------
$(BUILD)/bpf/vmlinux.h:
	@mkdir -p $(@D)
ifneq ($(VMLINUX_H),)
	cp $(VMLINUX_H) $@
else
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@
endif

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c bpf/attestd_api.h $(wildcard bpf/*.bpf.h) $(BUILD)/bpf/vmlinux.h
	$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH_BPF) -Wall -Werror \
		-I$(BUILD)/bpf -I. -c $< -o $@.tmp.o
	$(BPFTOOL) gen object $@ $@.tmp.o && rm -f $@.tmp.o

$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst .,_,$*)_bpf > $@.tmp && mv $@.tmp $@

# ---- user space ---------------------------------------------------------------------------
$(BUILD)/obj/%.o: %.c $(HDRS) | $(BPF_SKELS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# daemon/trusted_root_blob.S builds deploy/trusted_root.json in with .incbin (path from here)
$(BUILD)/obj/%.o: %.S deploy/trusted_root.json
	@mkdir -p $(@D)
	$(CC) -Wa,-I. -c $< -o $@

$(BUILD)/libattest.a: $(ATTEST_OBJS)
	@rm -f $@; ar rcs $@ $^
$(BUILD)/libdaemon.a: $(DAEMON_OBJS)
	@rm -f $@; ar rcs $@ $^
$(BUILD)/libsigstore.a: $(SIGSTORE_OBJS)
	@rm -f $@; ar rcs $@ $^

$(BUILD)/attestd: $(BUILD)/obj/daemon/main.o $(LIBS)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/attestctl: $(BUILD)/obj/tools/attestctl.o $(LIBS)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/tests/peer_client: $(BUILD)/obj/tests/tools/peer_client.o
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $^
$(BUILD)/tests/runtime_lookup: $(BUILD)/obj/tests/tools/runtime_lookup.o $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/tests/sigstore_conformance: $(BUILD)/obj/tests/tools/sigstore_conformance.o $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/tests/oci_fetch: $(BUILD)/obj/tests/tools/oci_fetch.o $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/tests/sigstore_signer: $(BUILD)/obj/tests/tools/sigstore_signer.o $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS) -lcmocka
$(BUILD)/bench/%: $(BUILD)/obj/tests/bench/%.o $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

# ---- sanitizer variant --------------------------------------------------------------------
asan:
	$(MAKE) BUILD=$(BUILD)/asan EXTRA_CFLAGS="$(ASAN_FLAGS)" VMLINUX_H=$(abspath $(BUILD)/bpf/vmlinux.h) \
		all unit-bins
$(BUILD)/asan/bpf/vmlinux.h: $(BUILD)/bpf/vmlinux.h

.PHONY: unit-bins
unit-bins: $(UNIT_BINS)

# ---- tests --------------------------------------------------------------------------------
unit: $(UNIT_BINS)
	@./tests/tools/run-unit $(UNIT_BINS)

unit-asan: $(BUILD)/bpf/vmlinux.h
	$(MAKE) asan
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		./tests/tools/run-unit $(patsubst $(BUILD)/%,$(BUILD)/asan/%,$(UNIT_BINS))

e2e: all
	ATTESTD_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -rs tests/e2e

kernels: all
	ATTESTD_BUILD=$(abspath $(BUILD)) ./tests/kernels/run-matrix

FUZZ_BUILD = $(BUILD)/fuzz
FUZZ_CFLAGS = $(CSTD) -O1 -g -I. -I$(BUILD) $(PKG_CFLAGS) -DATTESTD_VERSION='"fuzz"' \
	-fsanitize=fuzzer-no-link,address,undefined
FUZZ_LIB_OBJS = $(call lib_objs,$(FUZZ_BUILD),$(ATTEST_SRCS) $(DAEMON_SRCS) $(SIGSTORE_SRCS)) \
	$(patsubst %.S,$(FUZZ_BUILD)/obj/%.o,$(DAEMON_ASM))
FUZZ_BINS = $(patsubst tests/fuzz/%.c,$(FUZZ_BUILD)/%,$(FUZZ_SRCS))

$(FUZZ_BUILD)/obj/%.o: %.c $(HDRS) | $(BPF_SKELS)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -c $< -o $@
$(FUZZ_BUILD)/obj/%.o: %.S deploy/trusted_root.json
	@mkdir -p $(@D)
	$(CLANG) -Wa,-I. -c $< -o $@
$(FUZZ_BUILD)/libfuzzlibs.a: $(FUZZ_LIB_OBJS)
	@rm -f $@; ar rcs $@ $^
$(FUZZ_BUILD)/%: tests/fuzz/%.c $(FUZZ_BUILD)/libfuzzlibs.a $(HDRS)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_BUILD)/libfuzzlibs.a $(LDLIBS)

fuzz: $(FUZZ_BINS)
fuzz-smoke: $(FUZZ_BINS)
	@./tests/tools/run-fuzz-smoke $(FUZZ_BINS)

bench: all $(BENCH_BINS)
	@./tests/bench/run-all $(BUILD)

test: deps
	$(MAKE) all
	$(MAKE) fmt-check
	$(MAKE) unit
	$(MAKE) unit-asan
	$(MAKE) fuzz-smoke
	$(MAKE) e2e
	$(MAKE) kernels

run: all
	$(BUILD)/attestd

# ---- formatting ---------------------------------------------------------------------------
FMT_FILES = $(wildcard bpf/*.c bpf/*.h attest/*.c attest/*.h daemon/*.c daemon/*.h sigstore/*.c \
	sigstore/*.h tools/*.c tools/*.h tests/unit/*.c tests/unit/*.h tests/fuzz/*.c tests/fuzz/*.h \
	tests/bench/*.c tests/tools/*.c tests/kernels/*.c)
fmt:
	clang-format -i $(FMT_FILES)
fmt-check:
	clang-format --dry-run --Werror $(FMT_FILES)

clean:
	rm -rf $(BUILD)
