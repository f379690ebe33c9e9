# rcptguard - recipient verification, FCrDNS and greylisting for Exim gateways.
#
#   make                 build/rcptguard.so (Exim dlfunc module) and build/rcptguardctl
#   make test            unit tests (cmocka) and integration tests (real Exim, swaks)
#   make bench           figures, side by side with Exim's own callout cache
#   make demo            a front Exim with rcptguard before a back-end Exim, each check shown
#   make fuzz / asan     libFuzzer targets / the unit tests under AddressSanitizer
#   make install         PREFIX=/usr DESTDIR=... (module in $(EXIM_MODDIR))
#   make install-strip   the same, debug info split off into $(DEBUGDIR)/.build-id/

PREFIX ?= /usr
DESTDIR ?=
SYSCONFDIR ?= /etc
STATEDIR ?= /var/lib/rcptguard
EXIM_MODDIR ?= $(PREFIX)/lib/exim4
MANDIR ?= $(PREFIX)/share/man

CC ?= cc
CFLAGS ?= -O2 -g
WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat-security
# Why hidden visibility: the module is loaded into Exim beside other modules; only its
# dlfunc entry points may be visible, never core's generic names (config_load, ...).
RG_CFLAGS = $(WARN) -std=c11 -D_GNU_SOURCE -fPIC -fstack-protector-strong \
	-D_FORTIFY_SOURCE=2 -fvisibility=hidden -Icore \
	-ffunction-sections -fdata-sections

PKG_CONFIG ?= pkg-config
LMDB_CFLAGS := $(shell $(PKG_CONFIG) --cflags lmdb 2>/dev/null)
LMDB_LIBS := $(shell $(PKG_CONFIG) --libs lmdb 2>/dev/null || echo -llmdb)
CMOCKA_CFLAGS := $(shell $(PKG_CONFIG) --cflags cmocka 2>/dev/null)
CMOCKA_LIBS := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null || echo -lcmocka)
EXIM_INC ?= /usr/include/exim4

# libldap and libunbound are loaded on first use (core/dynlib.c): only their headers and
# sonames are needed at build time.
soname = $(shell objdump -p $$($(CC) -print-file-name=$(1)) 2>/dev/null | awk '/SONAME/ {print $$2}')
LDAP_SONAME ?= $(or $(call soname,libldap.so),libldap-2.5.so.0)
UNBOUND_SONAME ?= $(or $(call soname,libunbound.so),libunbound.so.8)
DYNLIB_CFLAGS = -DRG_LDAP_SONAME='"$(LDAP_SONAME)"' -DRG_UNBOUND_SONAME='"$(UNBOUND_SONAME)"'

LIBS = $(LMDB_LIBS) -lcdb -lpthread -ldl
ALL_CFLAGS = $(RG_CFLAGS) $(LMDB_CFLAGS) $(DYNLIB_CFLAGS) $(CFLAGS)

B ?= build

CORE_SRC = $(sort $(wildcard core/*.c))
CORE_OBJ = $(CORE_SRC:core/%.c=$(B)/core/%.o)
UNIT_SRC = $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)

all: $(B)/rcptguard.so $(B)/rcptguardctl

$(B)/core/%.o: core/%.c $(wildcard core/*.h)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/librgcore.a: $(CORE_OBJ)
	rm -f $@
	ar rcs $@ $^

# Link flags of the Exim module. Why -z now: with the preload (acl-snippets/
# rcptguard-main.conf) Exim's daemon binds every symbol once and each connection's process
# inherits the bound table, instead of resolving each function on its first call (a symbol
# lookup and a page fault per connection). Why --gc-sections: code nobody calls is not mapped.
MODULE_LDFLAGS ?= -Wl,-O1 -Wl,-z,now -Wl,--gc-sections

$(B)/rcptguard.so: exim_module/rcptguard.c $(B)/librgcore.a
	@test -f $(EXIM_INC)/local_scan.h || { echo "error: $(EXIM_INC)/local_scan.h missing: install exim4-dev or set EXIM_INC=" >&2; exit 1; }
	$(CC) $(ALL_CFLAGS) -I$(EXIM_INC) -shared $(MODULE_LDFLAGS) -o $@ $< $(B)/librgcore.a $(LIBS)

CTL_SRC = tools/rcptguardctl.c $(sort $(wildcard tools/ctl_*.c))

$(B)/rcptguardctl: $(CTL_SRC) tools/ctl.h $(B)/librgcore.a
	$(CC) $(ALL_CFLAGS) -fPIE -pie -o $@ $(CTL_SRC) $(B)/librgcore.a $(LIBS)

$(B)/tests/%: tests/unit/%.c $(B)/librgcore.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -o $@ $< $(B)/librgcore.a $(LIBS) $(CMOCKA_LIBS)

unit: $(UNIT_BIN)

# The lookup driver, for Exims built with LOOKUP_MODULE_DIR (EXIM_SRC = their source tree,
# EXIM_BUILD = the build folder holding the generated config.h). Both faces of this build
# link one shared engine, librcptguard.so.0, so that an Exim loading both shares one
# engine (one LMDB environment per process). -Bsymbolic: the engine's own calls never
# bind to a same-named symbol of an Exim built with -export-dynamic.
EXIM_SRC ?=
EXIM_BUILD ?= $(firstword $(wildcard $(EXIM_SRC)/build-*))
RG_LIBDIR ?= $(PREFIX)/lib/rcptguard
SHARED_CFLAGS = $(filter-out -fvisibility=hidden,$(ALL_CFLAGS))
SHARED_RPATH = -Wl,-rpath,'$$ORIGIN':$(RG_LIBDIR)

$(B)/shared/core/%.o: core/%.c $(wildcard core/*.h)
	@mkdir -p $(@D)
	$(CC) $(SHARED_CFLAGS) -c -o $@ $<

$(B)/shared/librcptguard.so.0: $(CORE_SRC:core/%.c=$(B)/shared/core/%.o) lookups/librcptguard.map
	$(CC) -shared -Wl,-soname,librcptguard.so.0 -Wl,-Bsymbolic \
		-Wl,--version-script=lookups/librcptguard.map -o $@ $(filter %.o,$^) $(LIBS)

lookups-check:
	@test -n "$(EXIM_SRC)" -a -f "$(EXIM_SRC)/src/lookupapi.h" || { echo "error: set EXIM_SRC= to an Exim source tree (src/lookupapi.h not found)" >&2; exit 1; }
	@test -f "$(EXIM_BUILD)/config.h" || { echo "error: no generated config.h in EXIM_BUILD=$(EXIM_BUILD): build that Exim first" >&2; exit 1; }
	@grep -q 'LOOKUP_MODULE_INFO_MAGIC 0x4c4d4935' $(EXIM_SRC)/src/lookupapi.h || { echo "error: $(EXIM_SRC)/src/lookupapi.h has another lookup ABI magic than 4.96's 0x4c4d4935" >&2; exit 1; }

$(B)/shared/lookups/rcptguard.so: lookups/rcptguard.c $(B)/shared/librcptguard.so.0 | lookups-check
	@mkdir -p $(@D)
	$(CC) -I$(EXIM_BUILD) -I$(EXIM_SRC)/src $(ALL_CFLAGS) -D_FILE_OFFSET_BITS=64 -shared -o $@ $< \
		-L$(B)/shared -l:librcptguard.so.0 -Wl,-rpath,'$$ORIGIN':'$$ORIGIN/..':$(RG_LIBDIR)

$(B)/shared/rcptguard.so: exim_module/rcptguard.c $(B)/shared/librcptguard.so.0
	$(CC) $(ALL_CFLAGS) -I$(EXIM_INC) -shared -o $@ $< -L$(B)/shared -l:librcptguard.so.0 $(SHARED_RPATH)

lookups: $(B)/shared/lookups/rcptguard.so $(B)/shared/rcptguard.so

install-lookups: lookups
	@test -n "$(EXIM_LOOKUP_DIR)" || { echo "error: set EXIM_LOOKUP_DIR= (the Exim's LOOKUP_MODULE_DIR)" >&2; exit 1; }
	install -d $(DESTDIR)$(RG_LIBDIR) $(DESTDIR)$(EXIM_LOOKUP_DIR) $(DESTDIR)$(EXIM_MODDIR)
	install -m 0644 $(B)/shared/librcptguard.so.0 $(DESTDIR)$(RG_LIBDIR)/
	install -m 0644 $(B)/shared/lookups/rcptguard.so $(DESTDIR)$(EXIM_LOOKUP_DIR)/rcptguard.so
	install -m 0644 $(B)/shared/rcptguard.so $(DESTDIR)$(EXIM_MODDIR)/rcptguard.so

test: all unit
	bash tests/run.sh

bench: all
	bash tests/bench/run.sh

demo: all
	bash tests/demo.sh

# The unit tests again, built apart in build/asan with AddressSanitizer and UBSan.
asan:
	$(MAKE) B=build/asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" unit
	@set -e; for t in build/asan/tests/test_*; do echo "== $$t"; $$t; done

fuzz:
	bash tests/fuzz/run.sh

# install, then the module and rcptguardctl without debug info; the debug info goes to
# $(DEBUGDIR)/.build-id/xx/yyyy.debug, where gdb finds it for bug reports (by build id).
DEBUGDIR ?= $(PREFIX)/lib/debug
install-strip: install
	@set -e; for f in $(DESTDIR)$(EXIM_MODDIR)/rcptguard.so $(DESTDIR)$(PREFIX)/sbin/rcptguardctl; do \
		id=$$(readelf -n $$f | sed -n 's/.*Build ID: //p'); \
		test -n "$$id" || { echo "error: $$f has no build id" >&2; exit 1; }; \
		d=$(DESTDIR)$(DEBUGDIR)/.build-id/$$(echo $$id | cut -c1-2); install -d $$d; \
		objcopy --only-keep-debug $$f $$d/$$(echo $$id | cut -c3-).debug; \
		chmod 0644 $$d/$$(echo $$id | cut -c3-).debug; \
		objcopy --strip-debug --strip-unneeded $$f; \
		echo "$$f: debug info in $$d/$$(echo $$id | cut -c3-).debug"; \
	done

install: all
	install -d $(DESTDIR)$(EXIM_MODDIR) $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(SYSCONFDIR)/rcptguard \
		$(DESTDIR)$(PREFIX)/share/rcptguard/acl-snippets $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5
	install -m 0644 $(B)/rcptguard.so $(DESTDIR)$(EXIM_MODDIR)/rcptguard.so
	install -m 0755 $(B)/rcptguardctl $(DESTDIR)$(PREFIX)/sbin/rcptguardctl
	install -m 0644 acl-snippets/*.conf $(DESTDIR)$(PREFIX)/share/rcptguard/acl-snippets/
	if [ -d acl-snippets/debian ]; then install -d $(DESTDIR)$(PREFIX)/share/rcptguard/acl-snippets/debian && \
		install -m 0644 acl-snippets/debian/* $(DESTDIR)$(PREFIX)/share/rcptguard/acl-snippets/debian/; fi
	test -f $(DESTDIR)$(SYSCONFDIR)/rcptguard/rcptguard.conf || \
		install -m 0644 rcptguard.conf.example $(DESTDIR)$(SYSCONFDIR)/rcptguard/rcptguard.conf
	install -m 0644 man/rcptguardctl.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 man/rcptguard.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -d -m 0750 $(DESTDIR)$(STATEDIR)
	-chown Debian-exim:Debian-exim $(DESTDIR)$(STATEDIR) 2>/dev/null

clean:
	rm -rf build

.PHONY: all unit test bench demo asan fuzz install install-strip clean lookups lookups-check install-lookups
