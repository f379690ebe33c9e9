# rcptguard - recipient verification, FCrDNS and greylisting for Exim gateways.
#
#   make                 build/rcptguard.so (Exim dlfunc module) and build/rcptguardctl
#   make test            unit tests (cmocka) and integration tests (real Exim, swaks)
#   make bench           figures, side by side with Exim's own callout cache
#   make demo            a front Exim with rcptguard before a back-end Exim, each check shown
#   make fuzz / asan     libFuzzer targets / the unit tests under AddressSanitizer
#   make install         PREFIX=/usr DESTDIR=... (module in $(EXIM_MODDIR))

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
	-D_FORTIFY_SOURCE=2 -fvisibility=hidden -Icore

PKG_CONFIG ?= pkg-config
LMDB_CFLAGS := $(shell $(PKG_CONFIG) --cflags lmdb 2>/dev/null)
LMDB_LIBS := $(shell $(PKG_CONFIG) --libs lmdb 2>/dev/null || echo -llmdb)
CMOCKA_CFLAGS := $(shell $(PKG_CONFIG) --cflags cmocka 2>/dev/null)
CMOCKA_LIBS := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null || echo -lcmocka)
EXIM_INC ?= /usr/include/exim4

LIBS = $(LMDB_LIBS)
ALL_CFLAGS = $(RG_CFLAGS) $(LMDB_CFLAGS) $(CFLAGS)

CORE_SRC = $(sort $(wildcard core/*.c))
CORE_OBJ = $(CORE_SRC:core/%.c=build/core/%.o)
UNIT_SRC = $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=build/tests/%)

all: build/rcptguard.so build/rcptguardctl

build/core/%.o: core/%.c $(wildcard core/*.h)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

build/librgcore.a: $(CORE_OBJ)
	rm -f $@
	ar rcs $@ $^

build/rcptguard.so: exim_module/rcptguard.c build/librgcore.a
	@test -f $(EXIM_INC)/local_scan.h || { echo "error: $(EXIM_INC)/local_scan.h missing: install exim4-dev or set EXIM_INC=" >&2; exit 1; }
	$(CC) $(ALL_CFLAGS) -I$(EXIM_INC) -shared -o $@ $< build/librgcore.a $(LIBS)

build/rcptguardctl: tools/rcptguardctl.c build/librgcore.a
	$(CC) $(ALL_CFLAGS) -fPIE -pie -o $@ $< build/librgcore.a $(LIBS)

build/tests/%: tests/unit/%.c build/librgcore.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -o $@ $< build/librgcore.a $(LIBS) $(CMOCKA_LIBS)

unit: $(UNIT_BIN)

test: all unit
	bash tests/run.sh

bench: all
	bash tests/bench/run.sh

demo: all
	bash tests/demo.sh

asan:
	$(MAKE) clean
	$(MAKE) CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" unit
	RG_UNIT_ONLY=1 bash tests/run.sh

fuzz:
	bash tests/fuzz/run.sh

install: all
	install -d $(DESTDIR)$(EXIM_MODDIR) $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(SYSCONFDIR)/rcptguard \
		$(DESTDIR)$(PREFIX)/share/rcptguard/acl-snippets $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5
	install -m 0644 build/rcptguard.so $(DESTDIR)$(EXIM_MODDIR)/rcptguard.so
	install -m 0755 build/rcptguardctl $(DESTDIR)$(PREFIX)/sbin/rcptguardctl
	install -m 0644 acl-snippets/* $(DESTDIR)$(PREFIX)/share/rcptguard/acl-snippets/
	test -f $(DESTDIR)$(SYSCONFDIR)/rcptguard/rcptguard.conf || \
		install -m 0644 rcptguard.conf.example $(DESTDIR)$(SYSCONFDIR)/rcptguard/rcptguard.conf
	install -m 0644 man/rcptguardctl.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 man/rcptguard.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -d -m 0750 $(DESTDIR)$(STATEDIR)
	-chown Debian-exim:Debian-exim $(DESTDIR)$(STATEDIR) 2>/dev/null

clean:
	rm -rf build

.PHONY: all unit test bench demo asan fuzz install clean
