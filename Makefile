# certsvc build.  Per-module static libraries, so that a test links only the
# layers it needs (STYLE.md section 1: arrows point down only).
#
#   make            build certsvcd and certsvc-admin into $(O) (default build/)
#   make test       build and run every Check suite          (T=dir limits it)
#   make check      deps + build + suites + suites under ASan/UBSan + e2e
#   make run        deps + build + init --demo ./var if missing + certsvcd
#   make bench      benchmarks (see BENCHMARKS.md)
#   make lint       clang-format --dry-run and cppcheck
#   make soak       10 minutes of load, 50 kills, e2e under valgrind
#   make install    PREFIX=/usr/local DESTDIR= (docs/operations.md)
#
# O=DIR puts every output under DIR (several builds can share one tree);
# SANITIZE=address,undefined builds with the sanitizers.

O        ?= build
CC       ?= cc
SANITIZE ?=
DATA     ?= var

PKGS     := openssl libmicrohttpd jansson libqrencode sqlite3
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

WARN     := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wvla
HARDEN   := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
ifeq ($(SANITIZE),)
OPT      ?= -O2 -g
SANFLAGS :=
else
OPT      ?= -O1 -g
SANFLAGS := -fsanitize=$(SANITIZE) -fno-sanitize-recover=all \
            -fno-omit-frame-pointer
endif
CPPFLAGS += -I. -I/usr/include/p11-kit-1 -D_GNU_SOURCE
CFLAGS   += -std=c11 $(OPT) $(WARN) $(HARDEN) $(SANFLAGS) -pthread \
            $(PKG_CFLAGS)
LDFLAGS  += -pie -Wl,-z,relro,-z,now $(SANFLAGS) -pthread
LDLIBS   += $(PKG_LIBS) -lz -ldl -lm

# --- sources by layer -------------------------------------------------------
BASE_SRC   := certsvc/err.c certsvc/mem.c certsvc/log.c
CORE_SRC   := $(filter-out $(BASE_SRC),$(wildcard certsvc/*.c))
P11_SRC    := $(wildcard pkcs11/*.c)
CRYPTO_SRC := $(wildcard crypto/*.c)
API_SRC    := $(filter-out api/certsvcd.c,$(wildcard api/*.c))
TOOLS_SRC  := $(filter-out tools/certsvc-admin.c,$(wildcard tools/*.c))

obj = $(patsubst %.c,$(O)/obj/%.o,$(1))

LIB_BASE   := $(O)/lib/libcs_base.a
LIB_P11    := $(O)/lib/libcs_p11.a
LIB_CRYPTO := $(O)/lib/libcs_crypto.a
LIB_CORE   := $(O)/lib/libcs_core.a
LIB_API    := $(O)/lib/libcs_api.a
LIB_TOOLS  := $(O)/lib/libcs_tools.a

# Link order: upper layers first.
LIBS_P11    := $(LIB_P11) $(LIB_BASE)
LIBS_CRYPTO := $(LIB_CRYPTO) $(LIBS_P11)
LIBS_CORE   := $(LIB_CORE) $(LIBS_CRYPTO)
LIBS_API    := $(LIB_API) $(LIBS_CORE)
LIBS_TOOLS  := $(LIB_TOOLS) $(LIBS_CORE)

BINS := $(O)/certsvcd $(O)/certsvc-admin

.PHONY: all test check run deps bench lint clean e2e suites fuzz install
.DEFAULT_GOAL := all
all: $(BINS) $(O)/tests/p11fault.so

$(O)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

# Where certsvcd finds the verification page when certsvc.conf names no
# web_dir: the repo's web/ by default (issue #9 installs to PREFIX/share).
PREFIX ?= /usr/local
ifneq ($(filter install,$(MAKECMDGOALS)),)
WEBDIR ?= $(DATAROOTDIR)/certsvc/web
endif
WEBDIR ?= $(CURDIR)/web
$(O)/obj/api/routes_web.o: CPPFLAGS += -DCERTSVC_WEB_DIR=\"$(WEBDIR)\"
# Rebuilt when WEBDIR changes (make, then make install, in one O).
$(O)/obj/api/routes_web.o: $(O)/webdir.stamp
$(O)/webdir.stamp: FORCE
	@mkdir -p $(O)
	@[ "$$(cat $@ 2>/dev/null)" = '$(WEBDIR)' ] || echo '$(WEBDIR)' >$@
.PHONY: FORCE
FORCE:

define mklib
$(1): $(call obj,$(2))
	@mkdir -p $$(dir $$@)
	rm -f $$@
	ar rcs $$@ $$^
endef
$(eval $(call mklib,$(LIB_BASE),$(BASE_SRC)))
$(eval $(call mklib,$(LIB_P11),$(P11_SRC)))
$(eval $(call mklib,$(LIB_CRYPTO),$(CRYPTO_SRC)))
$(eval $(call mklib,$(LIB_CORE),$(CORE_SRC)))
$(eval $(call mklib,$(LIB_API),$(API_SRC)))
$(eval $(call mklib,$(LIB_TOOLS),$(TOOLS_SRC)))

$(O)/certsvcd: $(call obj,api/certsvcd.c) $(LIBS_API)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/certsvc-admin: $(call obj,tools/certsvc-admin.c) $(LIBS_TOOLS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The fault-injecting PKCS#11 module used by the recovery tests.
$(O)/tests/p11fault.so: tests/p11fault/p11fault.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(filter-out -fPIE,$(CFLAGS)) -fPIC -shared \
	    -o $@ $< -ldl -pthread

# --- Check suites: tests/<dir>/check_<file>.c -> $(O)/tests/<dir>/check_<file>
TEST_UTIL := $(wildcard tests/testutil.c)
# Fixtures that link upper layers go only to the suites above them:
# tests/certfix.c (software PKI) needs crypto/, tests/svcfix.c certsvc/.
TEST_CERTFIX := $(wildcard tests/certfix.c)
TEST_SVCFIX  := $(wildcard tests/svcfix.c)
FIX_FOR_crypto  := $(TEST_CERTFIX)
FIX_FOR_certsvc := $(TEST_CERTFIX) $(TEST_SVCFIX)
FIX_FOR_api     := $(TEST_CERTFIX) $(TEST_SVCFIX)
FIX_FOR_tools   := $(TEST_CERTFIX) $(TEST_SVCFIX)
SUITES_pkcs11  := $(wildcard tests/pkcs11/check_*.c)
SUITES_crypto  := $(wildcard tests/crypto/check_*.c)
SUITES_certsvc := $(wildcard tests/certsvc/check_*.c)
SUITES_api     := $(wildcard tests/api/check_*.c)
SUITES_tools   := $(wildcard tests/tools/check_*.c)
LIBS_FOR_pkcs11  := $(LIBS_P11)
LIBS_FOR_crypto  := $(LIBS_CRYPTO)
LIBS_FOR_certsvc := $(LIBS_CORE)
LIBS_FOR_api     := $(LIBS_API)
LIBS_FOR_tools   := $(LIBS_TOOLS)
TEST_DIRS := pkcs11 crypto certsvc api tools
T ?= $(TEST_DIRS)

define mksuites
$(O)/tests/$(1)/%: tests/$(1)/%.c $(call obj,$(TEST_UTIL) $(FIX_FOR_$(1))) \
    $(LIBS_FOR_$(1))
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CPPFLAGS) $$(CFLAGS) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS) $$(CHECK_LIBS)
endef
$(foreach d,$(TEST_DIRS),$(eval $(call mksuites,$(d))))

SUITE_BINS := $(foreach d,$(T),$(patsubst tests/%.c,$(O)/tests/%,$(SUITES_$(d))))

suites: $(SUITE_BINS) $(O)/tests/p11fault.so

test: suites
	O=$(O) scripts/run-suites.sh $(SUITE_BINS)

e2e: all
	O=$(O) scripts/run-e2e.sh

# --- benchmarks --------------------------------------------------------------
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BINS := $(patsubst bench/%.c,$(O)/bench/%,$(BENCH_SRC))
$(O)/bench/%: bench/%.c $(LIBS_API)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench: deps $(BENCH_BINS) all
	O=$(O) scripts/run-bench.sh

# --- fuzzing: fuzz/ (docs/robustness.md) ------------------------------------
#   make fuzz          every target of fuzz/targets, FUZZ_SECONDS (600) each
#   make fuzz-short    regression inputs, then 20 s each (make check runs it)
#   make fuzz-regress  fuzz/regress/<target>/ inputs only
#   make fuzz-seeds    remake the signed seeds and fuzz/data (make-seeds.sh)
# Built by clang into FUZZ_O (build-fuzz): the project with
# -fsanitize=fuzzer-no-link,address,undefined, each fuzz/fuzz_<name>.c
# linked with -fsanitize=fuzzer.  A crash fails make.
FUZZ_O       ?= build-fuzz
FUZZ_SECONDS ?= 600
FUZZ_TARGETS := $(shell sed -n 's/^\([a-z0-9_]*\) [0-9].*/\1/p' fuzz/targets \
                  2>/dev/null)
FUZZ_MAKE    := $(MAKE) O=$(FUZZ_O) CC=clang \
                  SANITIZE=fuzzer-no-link,address,undefined
FUZZ_DEFS    := -DFUZZ_DATA_DIR='"$(CURDIR)/fuzz/data"'

$(O)/obj/fuzz/harness.o: CPPFLAGS += $(FUZZ_DEFS)
$(O)/fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz.h $(call obj,fuzz/harness.c) \
    $(LIB_API) $(LIBS_TOOLS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fsanitize=fuzzer $(LDFLAGS) -o $@ \
	    $(filter-out %.h,$^) $(LDLIBS)
$(O)/fuzz/seedgen: fuzz/seedgen.c $(LIBS_CORE)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

.PHONY: fuzz-build fuzz-bins fuzz-short fuzz-regress fuzz-seeds
fuzz-bins: $(patsubst %,$(O)/fuzz/fuzz_%,$(FUZZ_TARGETS))
fuzz-build:
	$(FUZZ_MAKE) fuzz-bins
fuzz: fuzz-build
	O=$(FUZZ_O) FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh
fuzz-short: fuzz-build
	O=$(FUZZ_O) FUZZ_SECONDS=20 fuzz/run.sh
fuzz-regress: fuzz-build
	O=$(FUZZ_O) FUZZ_SECONDS=0 fuzz/run.sh
fuzz-seeds:
	$(FUZZ_MAKE) $(FUZZ_O)/fuzz/seedgen
	O=$(FUZZ_O) fuzz/make-seeds.sh

# --- soak: the long forms of issue #8's tests (docs/robustness.md) ----------
#   make soak   SOAK_SECONDS (600) of mixed load at 80 % of the measured
#               maximum, crash.sh with CRASH_ROUNDS (50) kills, then every
#               e2e script with certsvcd under valgrind (scripts/soak.sh)
SOAK_SECONDS ?= 600
CRASH_ROUNDS ?= 50
.PHONY: soak
soak: all
	O=$(O) SOAK_SECONDS=$(SOAK_SECONDS) scripts/soak.sh load
	O=$(O) CRASH_ROUNDS=$(CRASH_ROUNDS) bash tests/e2e/crash.sh
	O=$(O) scripts/soak.sh valgrind

# --- the two commands of README.md ------------------------------------------
deps:
	scripts/deps.sh

check: deps
	$(MAKE) all suites
	$(MAKE) test
	$(MAKE) O=build-asan SANITIZE=address,undefined test
	$(MAKE) e2e
	$(MAKE) fuzz-short

run: deps
	$(MAKE) all
	@if [ ! -f $(DATA)/certsvc.conf ]; then \
	    $(O)/certsvc-admin init --demo --data-dir $(DATA); fi
	exec $(O)/certsvcd --config $(DATA)/certsvc.conf

lint:
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
	    --inline-suppr -I. $(BASE_SRC) $(CORE_SRC) $(P11_SRC) \
	    $(CRYPTO_SRC) api tools

# --- install (issue #9; docs/operations.md) ---------------------------------
#   make install PREFIX=/usr/local DESTDIR=
# Binaries in sbin (administration, man section 8), the verification page,
# the example config and docs, the man pages and the systemd files.
SBINDIR     ?= $(PREFIX)/sbin
DATAROOTDIR ?= $(PREFIX)/share
MANDIR      ?= $(DATAROOTDIR)/man
DOCDIR      ?= $(DATAROOTDIR)/doc/certsvc
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
INSTALL     ?= install

install: all
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR) \
	    $(DESTDIR)$(DATAROOTDIR)/certsvc/web $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR)
	$(INSTALL) -m 0755 $(O)/certsvcd $(O)/certsvc-admin $(DESTDIR)$(SBINDIR)/
	cd web && find . -type f | while read -r f; do \
	    $(INSTALL) -D -m 0644 "$$f" "$(DESTDIR)$(DATAROOTDIR)/certsvc/web/$$f" \
	    || exit 1; done
	$(INSTALL) -m 0644 docs/certsvc.conf.example docs/operations.md \
	    $(DESTDIR)$(DOCDIR)/
	$(INSTALL) -m 0644 man/*.5 $(DESTDIR)$(MANDIR)/man5/
	$(INSTALL) -m 0644 man/*.8 $(DESTDIR)$(MANDIR)/man8/
	for u in certsvcd.service certsvc-backup.service certsvc-backup.timer; do \
	    sed 's|/usr/sbin/|$(SBINDIR)/|g' contrib/$$u \
	        >$(DESTDIR)$(UNITDIR)/$$u && \
	    chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; done
	$(INSTALL) -m 0644 contrib/certsvc.sysusers \
	    $(DESTDIR)$(SYSUSERSDIR)/certsvc.conf
	$(INSTALL) -m 0644 contrib/certsvc.tmpfiles \
	    $(DESTDIR)$(TMPFILESDIR)/certsvc.conf

clean:
	rm -rf build build-asan

-include $(shell find $(O)/obj -name '*.d' 2>/dev/null)
