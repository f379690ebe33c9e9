# rcptguard - recipient verification, FCrDNS and greylisting for Exim gateways.
#
#   make                 build/rcptguard.so (Exim dlfunc module), build/rcptguardctl, build/rcptguard-admin
#   make test            unit tests (cmocka) and integration tests (real Exim, swaks)
#   make bench           figures, side by side with Exim's own callout cache
#   make demo            a front Exim with rcptguard before a back-end Exim, each check shown
#   make fuzz / asan     libFuzzer targets / unit and integration tests under ASan+UBSan
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

# libldap, libunbound and hiredis are loaded on first use (core/dynlib.c): only their headers and
# sonames are needed at build time.
soname = $(shell objdump -p $$($(CC) -print-file-name=$(1)) 2>/dev/null | awk '/SONAME/ {print $$2}')
LDAP_SONAME ?= $(or $(call soname,libldap.so),libldap-2.5.so.0)
UNBOUND_SONAME ?= $(or $(call soname,libunbound.so),libunbound.so.8)
HIREDIS_SONAME ?= $(or $(call soname,libhiredis.so),libhiredis.so.0.14)
DYNLIB_CFLAGS = -DRG_LDAP_SONAME='"$(LDAP_SONAME)"' -DRG_UNBOUND_SONAME='"$(UNBOUND_SONAME)"' \
	-DRG_HIREDIS_SONAME='"$(HIREDIS_SONAME)"'

LIBS = $(LMDB_LIBS) -lcdb -lpcre2-8 -lnettle -lpthread -ldl
ALL_CFLAGS = $(RG_CFLAGS) $(LMDB_CFLAGS) $(DYNLIB_CFLAGS) $(CFLAGS)

B ?= build

CORE_SRC = $(sort $(wildcard core/*.c))
CORE_OBJ = $(CORE_SRC:core/%.c=$(B)/core/%.o)
UNIT_SRC = $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)

all: tier-check $(B)/rcptguard.so $(B)/rcptguardctl $(B)/rcptguard-admin

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
# Why max-page-size 64 KiB: a new process faults the module's code in 64 KiB windows aligned
# in memory (the kernel's fault-around); with its segments 64 KiB-aligned, the hot code
# (RG_HOT, placed first in .text) and the read-only data each start a window instead of
# straddling two.
MODULE_LDFLAGS ?= -Wl,-O1 -Wl,-z,now -Wl,--gc-sections -Wl,-z,max-page-size=0x10000

$(B)/rcptguard.so: exim_module/rcptguard.c $(B)/librgcore.a
	@test -f $(EXIM_INC)/local_scan.h || { echo "error: $(EXIM_INC)/local_scan.h missing: install exim4-dev or set EXIM_INC=" >&2; exit 1; }
	$(CC) $(ALL_CFLAGS) -I$(EXIM_INC) -shared $(MODULE_LDFLAGS) $(LDFLAGS) -o $@ $< $(B)/librgcore.a $(LIBS)

CTL_SRC = tools/rcptguardctl.c $(sort $(wildcard tools/ctl_*.c))

$(B)/rcptguardctl: $(CTL_SRC) tools/ctl.h $(B)/librgcore.a
	$(CC) $(ALL_CFLAGS) -fPIE -pie $(LDFLAGS) -o $@ $(CTL_SRC) $(B)/librgcore.a $(LIBS)

# rcptguard-admin: the HTTP API and web page (libmicrohttpd, GnuTLS, jansson); the page's
# files are embedded as C strings (nothing is fetched from outside).
ADMIN_SRC = tools/rcptguard-admin.c $(sort $(wildcard tools/admin_*.c))
ADMIN_LIBS = $(shell $(PKG_CONFIG) --libs libmicrohttpd gnutls jansson 2>/dev/null || echo -lmicrohttpd -lgnutls -ljansson)

$(B)/tools/admin_page.c: tools/admin_page/embed.sh tools/admin_page/page.html tools/admin_page/page.css tools/admin_page/page.js
	@mkdir -p $(@D)
	sh tools/admin_page/embed.sh $@

$(B)/rcptguard-admin: $(ADMIN_SRC) tools/admin.h $(B)/tools/admin_page.c $(B)/librgcore.a
	$(CC) $(ALL_CFLAGS) -Itools -fPIE -pie $(LDFLAGS) -o $@ $(ADMIN_SRC) $(B)/tools/admin_page.c $(B)/librgcore.a $(LIBS) $(ADMIN_LIBS)

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

# The lower tier: string, log, loader and parser modules that never see the engine (no
# config, engine, verify or source header), as Postfix's util never sees global. Each file
# listed may include only headers of this list; a member's key table (NAME_conf.c/.h,
# config_key.h) is among them, so it never sees struct settings. (list_parse joins when
# it stops needing list.h; the smtp_* files of the callout split are included by the
# wildcard.)
LOWER_TIER = core/rg.h core/util.c core/rglog.c core/rglog.h core/dynlib.c core/dynlib.h \
	core/address.c core/address.h core/yield.c core/yield.h core/linefile.c core/linefile.h \
	core/ipaddr.c core/ipaddr.h \
	core/ldap_filter.c core/ldap_filter.h core/dynamic.c core/dynamic.h \
	core/greylist_key.c core/greylist_key.h core/greylist_whitelist.c core/greylist_whitelist.h \
	core/verdict.c core/verdict.h $(sort $(wildcard core/smtp*.c core/smtp*.h)) \
	core/config_key.h $(sort $(wildcard core/*_conf.c core/*_conf.h)) core/record.c core/record.h

tier-check:
	@bad=0; for f in $(LOWER_TIER); do \
		for h in $$(sed -n 's/^#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' $$f); do \
			case " $(LOWER_TIER) " in *" core/$$h "*) ;; \
			*) echo "tier-check: $$f includes \"$$h\", which is not a lower-tier header" >&2; bad=1 ;; esac; \
		done; \
	done; exit $$bad

test: all unit
	bash tests/run.sh

bench: all
	bash tests/bench/run.sh

demo: all
	bash tests/demo.sh

# The unit tests again, built apart in build/asan with AddressSanitizer and UBSan; then
# the module built the same way runs inside real Exims (libasan preloaded into Exim) for
# the integration tests in ASAN_TESTS (all of them: ASAN_TESTS=all).
ASAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
ASAN_TESTS ?= t_malformed t_callout t_fcrdns t_greylist t_ldap t_misbehave
asan:
	$(MAKE) B=build/asan CFLAGS="$(ASAN_FLAGS)" all unit
	bash tests/asan.sh $(ASAN_TESTS)

# libFuzzer targets (tests/fuzz/fuzz_*.c), built with clang against core/ built apart in
# build/fuzz with ASan and UBSan. "make fuzz" runs each for FUZZ_SECONDS (default 60);
# tests/run.sh runs each briefly on its checked-in corpus (tests/fuzz/corpus/NAME).
FUZZ_CC ?= clang
FUZZ_B = build/fuzz
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -Icore $(LMDB_CFLAGS) $(DYNLIB_CFLAGS) \
	-fsanitize=fuzzer-no-link,address,undefined
FUZZ_SRC = $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN = $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_B)/%)

$(FUZZ_B)/core/%.o: core/%.c $(wildcard core/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_B)/librgcore.a: $(CORE_SRC:core/%.c=$(FUZZ_B)/core/%.o)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_B)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_B)/librgcore.a $(wildcard core/*.c core/*.h)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_B)/librgcore.a $(LIBS)

fuzz-build: $(FUZZ_BIN)

fuzz: fuzz-build
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
	install -m 0755 $(B)/rcptguard-admin $(DESTDIR)$(PREFIX)/sbin/rcptguard-admin
	install -m 0644 man/rcptguard-admin.8 $(DESTDIR)$(MANDIR)/man8/
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

.PHONY: all unit test bench demo asan fuzz fuzz-build tier-check install install-strip clean lookups lookups-check install-lookups
