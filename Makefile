# tuntuntun build. Sources are found by wildcard so a new module or test is
# one new file: core/*.c (the daemon's spine), core/*/*.c (the layers below
# it) and reorder/*.c make libttt.a (the daemon and the unit tests link it), schedulers/foo_bar.c makes plugins.d/foo-bar.so,
# tests/unit/test_*.c each make one cmocka test run under ASan+UBSan.
#
# A plain build never installs anything: it checks its libraries with
# pkg-config and names the Debian package of each one missing. Only
# `make check`, `make demo` and `make bench` (and CI) run scripts/deps.sh,
# which apt-installs what the tests and the demo need. Output is one line
# per step (`  CC core/x.o`); V=1 shows the full commands.

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
LIBDIR ?= $(PREFIX)/lib
PLUGINDIR ?= $(LIBDIR)/tuntuntun/plugins.d
INCDIR ?= $(PREFIX)/include
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
SYSCONFDIR ?= /etc
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
CONFDIR = $(SYSCONFDIR)/tuntuntun

# The one place the version is written: status reports it (-DTTT_VERSION)
# and the installed tuntuntun.pc carries it.
VERSION := $(shell cat VERSION)

CC ?= cc

V ?= 0
ifeq ($(V),1)
say =
else
# $(call say,TAG,WHAT) starts a recipe line: prints "  TAG WHAT" and
# hides the command that follows it.
say = @printf '  %s %s\n' '$(1)' '$(2)';
endif

# The test, demo and bench targets install their packages first (before
# pkg-config runs below); nothing else ever does.
DEPS_GOALS = check demo bench
ifneq ($(filter $(DEPS_GOALS),$(MAKECMDGOALS)),)
DEPS_OK := $(shell scripts/deps.sh >&2 && echo ok)
ifneq ($(DEPS_OK),ok)
$(error scripts/deps.sh could not install the test dependencies)
endif
endif

# pkg-config module -> Debian package. libev ships no .pc on Debian: its
# header is looked for instead.
PKGS = yaml-0.1 libsodium jansson libmnl libcap libmicrohttpd
DEB_yaml-0.1 = libyaml-dev
DEB_libsodium = libsodium-dev
DEB_jansson = libjansson-dev
DEB_libmnl = libmnl-dev
DEB_libcap = libcap-dev
DEB_libmicrohttpd = libmicrohttpd-dev

# Goals that compile nothing need no libraries.
NOLIB_GOALS = clean uninstall format
ifneq ($(MAKECMDGOALS),)
ifeq ($(filter-out $(NOLIB_GOALS),$(MAKECMDGOALS)),)
SKIP_LIBCHECK = 1
endif
endif
ifndef SKIP_LIBCHECK
ifeq ($(shell command -v pkg-config),)
$(error missing build dependency: pkg-config (Debian package pkg-config))
endif
MISSING := $(strip $(foreach p,$(PKGS),$(if $(shell pkg-config --exists $(p) && echo y),,$(p))))
HAVE_EV := $(shell printf '\043include <ev.h>\n' | $(CC) -E -x c - >/dev/null 2>&1 && echo y)
$(foreach p,$(MISSING),$(info missing build dependency: $(p) (Debian package $(DEB_$(p)))))
$(if $(HAVE_EV),,$(info missing build dependency: libev (Debian package libev-dev)))
ifneq ($(MISSING)$(if $(HAVE_EV),,libev),)
$(error install the packages above (apt-get install $(foreach p,$(MISSING),$(DEB_$(p))) $(if $(HAVE_EV),,libev-dev)) or run scripts/deps.sh)
endif
endif

# The unit tests also need cmocka (make check installs it first).
ifneq ($(filter unit build/san/tests/%,$(MAKECMDGOALS)),)
ifneq ($(shell pkg-config --exists cmocka && echo y),y)
$(error missing test dependency: cmocka (Debian package libcmocka-dev))
endif
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lev -ldl -lm

# libsystemd (Debian libsystemd-dev) is optional: with it the daemon tells
# systemd when it is ready, reloading or stopping (core/os/sdnotify.c);
# without it those calls do nothing. SYSTEMD=0 builds without it.
SYSTEMD ?= $(if $(SKIP_LIBCHECK),0,$(shell pkg-config --exists libsystemd && echo 1 || echo 0))
ifeq ($(SYSTEMD),1)
PKG_CFLAGS += $(shell pkg-config --cflags libsystemd) -DTTT_HAVE_LIBSYSTEMD
PKG_LIBS += $(shell pkg-config --libs libsystemd)
endif

WARN = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wno-unused-parameter
BASE_CFLAGS = -std=gnu11 $(WARN) -D_GNU_SOURCE -Iinclude -Icore -Ireorder -I$(B)/gen \
	-DTTT_PLUGINDIR='"$(PLUGINDIR)"' -DTTT_VERSION='"$(VERSION)"' $(PKG_CFLAGS)
CFLAGS ?= -O2 -g
ALL_CFLAGS = $(BASE_CFLAGS) $(CFLAGS) -fno-omit-frame-pointer
SAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer

B = build
MAINS = core/main.c core/ctl/tuntunctl.c
CORE_SRCS = $(filter-out $(MAINS),$(wildcard core/*.c core/*/*.c)) $(wildcard reorder/*.c)
CORE_HDRS = $(wildcard core/*.h core/*/*.h reorder/*.h include/tuntuntun/*.h)
CORE_OBJS = $(CORE_SRCS:%.c=$(B)/rel/%.o)
SAN_OBJS = $(CORE_SRCS:%.c=$(B)/san/%.o)
PLUGIN_SRCS = $(wildcard schedulers/*.c)
PLUGINS = $(patsubst schedulers/%.c,plugins.d/%.so,$(subst _,-,$(PLUGIN_SRCS)))
UNIT_SRCS = $(wildcard tests/unit/test_*.c)
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=$(B)/san/tests/%)
TESTPLUGIN_SRCS = $(wildcard tests/unit/plugins/*.c)
TESTPLUGINS = $(TESTPLUGIN_SRCS:tests/unit/plugins/%.c=$(B)/testplugins/%.so)
EMU_SRCS = $(wildcard tests/emu/*.c)
BENCH_SRCS = $(wildcard tests/bench/*.c)
BENCH_BINS = $(BENCH_SRCS:tests/bench/%.c=$(B)/rel/bench/%)

.PHONY: all check layers unit emu-test e2e demo bench fuzz fuzz-long soak install uninstall clean format sys-test
all: tuntuntun tuntunctl $(PLUGINS) $(B)/ttt-linkemu

$(B)/rel/%.o: %.c $(CORE_HDRS)
	@mkdir -p $(dir $@)
	$(call say,CC,$*.o) $(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/san/%.o: %.c $(CORE_HDRS)
	@mkdir -p $(dir $@)
	$(call say,CC,$*.o [asan]) $(CC) $(BASE_CFLAGS) $(SAN_FLAGS) -c -o $@ $<

# The built-in plugin directory follows PREFIX: rebuild what embeds it when
# PREFIX changes (e.g. `make install PREFIX=/usr` after a plain `make`).
.PHONY: FORCE
$(B)/plugindir.stamp: FORCE
	@mkdir -p $(B)
	@echo '$(PLUGINDIR)' | cmp -s - $@ || echo '$(PLUGINDIR)' > $@
$(B)/rel/core/sched/sched_host.o $(B)/san/core/sched/sched_host.o: $(B)/plugindir.stamp
$(B)/rel/core/ctlcmd.o $(B)/san/core/ctlcmd.o $(B)/rel/core/main.o $(B)/rel/core/ctl/tuntunctl.o: VERSION
# Same for whether libsystemd is built in.
$(B)/systemd.stamp: FORCE
	@mkdir -p $(B)
	@echo '$(SYSTEMD)' | cmp -s - $@ || echo '$(SYSTEMD)' > $@
$(B)/rel/core/os/sdnotify.o $(B)/san/core/os/sdnotify.o: $(B)/systemd.stamp

# The live monitoring page, compiled into core/ctl/httpd.c as a byte array.
$(B)/gen/www_index.h: core/ctl/www/index.html
	@mkdir -p $(dir $@)
	{ echo 'static const unsigned char www_index_html[] = {'; \
	  od -An -v -tx1 $< | sed 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '};'; } > $@.tmp && mv $@.tmp $@
$(B)/rel/core/ctl/httpd.o $(B)/san/core/ctl/httpd.o: $(B)/gen/www_index.h

$(B)/libttt.a: $(CORE_OBJS)
	@rm -f $@
	$(call say,AR,$@) ar rcs $@ $^

$(B)/libttt-san.a: $(SAN_OBJS)
	@rm -f $@
	$(call say,AR,$@) ar rcs $@ $^

tuntuntun: $(B)/rel/core/main.o $(B)/libttt.a
	$(call say,LD,$@) $(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

tuntunctl: $(B)/rel/core/ctl/tuntunctl.o $(B)/libttt.a
	$(call say,LD,$@) $(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

# Plugins see only the public header, exactly as a third party does.
.SECONDEXPANSION:
plugins.d/%.so: schedulers/$$(subst -,_,%).c include/tuntuntun/sched.h
	@mkdir -p plugins.d
	$(call say,CC,$@) $(CC) -std=gnu11 $(WARN) -Iinclude $(CFLAGS) -fPIC -shared \
		-fvisibility=hidden -o $@ $<

$(B)/testplugins/%.so: tests/unit/plugins/%.c include/tuntuntun/sched.h
	@mkdir -p $(dir $@)
	$(call say,CC,$@) $(CC) -std=gnu11 $(WARN) -Iinclude -O1 -g -fPIC -shared -o $@ $<

$(B)/ttt-linkemu: $(EMU_SRCS) $(wildcard tests/emu/*.h) core/base/log.c core/base/log.h
	@mkdir -p $(B)
	$(call say,LD,$@) $(CC) $(ALL_CFLAGS) -o $@ $(EMU_SRCS) -lev -lm

# Each unit test links the sanitized library; plugin tests also compile the
# plugin's source in directly so its static functions can be called.
$(B)/san/tests/%: tests/unit/%.c $(B)/libttt-san.a $(wildcard tests/unit/*.h) $(PLUGIN_SRCS)
	@mkdir -p $(dir $@)
	$(call say,LD,$@) $(CC) $(BASE_CFLAGS) $(SAN_FLAGS) -Itests/unit -o $@ $< $(B)/libttt-san.a \
		$(PKG_LIBS) $(shell pkg-config --libs cmocka)

$(B)/rel/bench/%: tests/bench/%.c $(B)/libttt.a $(PLUGINS)
	@mkdir -p $(dir $@)
	$(call say,LD,$@) $(CC) $(ALL_CFLAGS) -o $@ $< $(B)/libttt.a $(PKG_LIBS)

# The link emulator's model tests (its sources, minus its main).
EMU_LIB_SRCS = $(filter-out tests/emu/emu_main.c,$(EMU_SRCS))
$(B)/san/tests/test_emu: tests/emu/unit/test_emu.c $(EMU_SRCS) $(wildcard tests/emu/*.h)
	@mkdir -p $(dir $@)
	$(call say,LD,$@) $(CC) $(BASE_CFLAGS) $(SAN_FLAGS) -Itests/emu -o $@ $< $(EMU_LIB_SRCS) -lev -lm \
		$(shell pkg-config --libs cmocka)
UNIT_BINS += $(B)/san/tests/test_emu

unit: $(UNIT_BINS) $(TESTPLUGINS) $(PLUGINS)
	@TTT_TEST_PLUGIN_DIR=$(CURDIR)/$(B)/testplugins TTT_PLUGIN_DIR=$(CURDIR)/plugins.d \
		tests/run-unit.sh $(UNIT_BINS)

emu-test: $(B)/ttt-linkemu
	@bash tests/emu/test-linkemu.sh

e2e: all
	@tests/e2e/run-all.sh

# The layering rule of README.md's "Layout": no upward includes.
layers:
	@bash tests/check-layers.sh

# What `make install` produces, the systemd unit (systemd-analyze verify),
# the man pages (no groff/man warnings) and the bash completion.
sys-test: all
	@RESTORE_PREFIX=$(PREFIX) bash tests/check-install.sh

# Keeps going after a failing stage so one run shows every failure.
check: all
	@rc=0; $(MAKE) --no-print-directory layers || rc=1; \
	$(MAKE) --no-print-directory sys-test || rc=1; \
	$(MAKE) --no-print-directory unit || rc=1; \
	$(MAKE) --no-print-directory emu-test || rc=1; \
	$(MAKE) --no-print-directory e2e || rc=1; exit $$rc

demo: all
	@scripts/demo.sh

bench: all $(BENCH_BINS)
	@scripts/bench.sh

fuzz: $(B)/gen/www_index.h
	@scripts/fuzz.sh

# Every harness for at least 5 minutes (FUZZ_SECONDS overrides); not in CI.
fuzz-long:
	@FUZZ_SECONDS=$${FUZZ_SECONDS:-300} scripts/fuzz.sh

# Not in check: SOAK_SECONDS (default 120) of traffic, flaps and garbage
# against ASan-built daemons, then leak and flat-RSS checks.
soak: all
	@scripts/soak.sh

# What `make install` puts where (README, "Real use"). Configs in
# $(CONFDIR) are never overwritten: only the *.yaml.example files are, and
# they are adjusted to this install (plugin_dir, the systemd unit's runtime
# and state directories, no privilege switch the unit's capability set
# forbids).
MANPAGES = docs/man/tuntuntun.8 docs/man/tuntunctl.8 docs/man/tuntuntun.yaml.5
UNIT = tuntuntun@.service
BASHCOMP = scripts/completions/tuntunctl.bash

$(B)/$(UNIT): scripts/systemd/$(UNIT).in $(B)/plugindir.stamp FORCE
	@mkdir -p $(B)
	@sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@CONFDIR@|$(CONFDIR)|g' $< > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@

# example.yaml NAME: the installed variant of examples/NAME.yaml.
define example_sed
sed -e 's|^plugin_dir: .*|plugin_dir: $(PLUGINDIR)|' \
    -e 's|^state_file: .*|state_file: /var/lib/tuntuntun/$(1).state|' \
    -e 's|^control: .*|control: { socket: /run/tuntuntun/$(1).sock, mode: "0600" }|' \
    -e 's|^user: \(.*\)|# user: \1   # not under tuntuntun@.service: see the unit|'
endef

$(B)/%.yaml.example: examples/%.yaml $(B)/plugindir.stamp
	@mkdir -p $(B)
	@$(call example_sed,$*) $< > $@

# Man pages name the installed plugin directory.
$(B)/man/%: docs/man/% $(B)/plugindir.stamp
	@mkdir -p $(B)/man
	@sed -e 's|@PLUGINDIR@|$(PLUGINDIR)|g' $< > $@

install: all $(B)/$(UNIT) $(B)/client.yaml.example $(B)/server.yaml.example \
		$(MANPAGES:docs/man/%=$(B)/man/%)
	$(call say,INSTALL,$(DESTDIR)$(PREFIX)) set -e; \
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(PLUGINDIR) \
		$(DESTDIR)$(INCDIR)/tuntuntun $(DESTDIR)$(LIBDIR)/pkgconfig \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(BASHCOMPDIR); \
	install -d -m 0750 $(DESTDIR)$(CONFDIR); \
	install -m 0755 tuntuntun $(DESTDIR)$(SBINDIR)/; \
	install -m 0755 tuntunctl $(DESTDIR)$(BINDIR)/; \
	install -m 0755 $(PLUGINS) $(DESTDIR)$(PLUGINDIR)/; \
	install -m 0644 include/tuntuntun/sched.h $(DESTDIR)$(INCDIR)/tuntuntun/; \
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@PLUGINDIR@|$(PLUGINDIR)|g' \
		-e 's|@VERSION@|$(VERSION)|g' \
		tuntuntun.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/tuntuntun.pc; \
	chmod 0644 $(DESTDIR)$(LIBDIR)/pkgconfig/tuntuntun.pc; \
	install -m 0644 $(B)/man/tuntuntun.8 $(B)/man/tuntunctl.8 $(DESTDIR)$(MANDIR)/man8/; \
	install -m 0644 $(B)/man/tuntuntun.yaml.5 $(DESTDIR)$(MANDIR)/man5/; \
	install -m 0644 $(B)/$(UNIT) $(DESTDIR)$(SYSTEMDUNITDIR)/; \
	install -m 0644 $(BASHCOMP) $(DESTDIR)$(BASHCOMPDIR)/tuntunctl; \
	install -m 0640 $(B)/client.yaml.example $(B)/server.yaml.example $(DESTDIR)$(CONFDIR)/

# Removes what install put there; configs and keys in $(CONFDIR) stay (the
# directory goes only if nothing else is left in it).
uninstall:
	$(call say,RM,$(DESTDIR)$(PREFIX)) \
	rm -f $(DESTDIR)$(SBINDIR)/tuntuntun $(DESTDIR)$(BINDIR)/tuntunctl \
		$(addprefix $(DESTDIR)$(PLUGINDIR)/,$(notdir $(PLUGINS))) \
		$(DESTDIR)$(INCDIR)/tuntuntun/sched.h $(DESTDIR)$(LIBDIR)/pkgconfig/tuntuntun.pc \
		$(DESTDIR)$(MANDIR)/man8/tuntuntun.8 $(DESTDIR)$(MANDIR)/man8/tuntunctl.8 \
		$(DESTDIR)$(MANDIR)/man5/tuntuntun.yaml.5 $(DESTDIR)$(SYSTEMDUNITDIR)/$(UNIT) \
		$(DESTDIR)$(BASHCOMPDIR)/tuntunctl \
		$(DESTDIR)$(CONFDIR)/client.yaml.example $(DESTDIR)$(CONFDIR)/server.yaml.example; \
	rmdir $(DESTDIR)$(PLUGINDIR) $(DESTDIR)$(LIBDIR)/tuntuntun $(DESTDIR)$(INCDIR)/tuntuntun \
		$(DESTDIR)$(CONFDIR) 2>/dev/null; true

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(B) tuntuntun tuntunctl plugins.d/*.so
