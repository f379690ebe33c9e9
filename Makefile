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

$(B)/rcptguard.so: exim_module/rcptguard.c $(B)/librgcore.a
	@test -f $(EXIM_INC)/local_scan.h || { echo "error: $(EXIM_INC)/local_scan.h missing: install exim4-dev or set EXIM_INC=" >&2; exit 1; }
	$(CC) $(ALL_CFLAGS) -I$(EXIM_INC) -shared -o $@ $< $(B)/librgcore.a $(LIBS)

$(B)/rcptguardctl: tools/rcptguardctl.c $(B)/librgcore.a
	$(CC) $(ALL_CFLAGS) -fPIE -pie -o $@ $< $(B)/librgcore.a $(LIBS)

$(B)/tests/%: tests/unit/%.c $(B)/librgcore.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -o $@ $< $(B)/librgcore.a $(LIBS) $(CMOCKA_LIBS)

unit: $(UNIT_BIN)

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

.PHONY: all unit test bench demo asan fuzz install clean
