# tuntuntun build. Sources are found by wildcard so a new module or test is
# one new file: core/*.c (the daemon's spine), core/*/*.c (the layers below
# it) and reorder/*.c make libttt.a (the daemon and the unit tests link it), schedulers/foo_bar.c makes plugins.d/foo-bar.so,
# tests/unit/test_*.c each make one cmocka test run under ASan+UBSan.

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR = $(PREFIX)/bin
LIBDIR = $(PREFIX)/lib
PLUGINDIR = $(LIBDIR)/tuntuntun/plugins.d
INCDIR = $(PREFIX)/include
SYSCONFDIR ?= /etc

# The one place the version is written: status reports it (-DTTT_VERSION)
# and the installed tuntuntun.pc carries it.
VERSION := $(shell cat VERSION)

CC ?= cc
DEPS_OK := $(shell scripts/deps.sh >&2 && echo ok)
ifneq ($(DEPS_OK),ok)
$(error scripts/deps.sh could not install the build dependencies)
endif

PKGS = yaml-0.1 libsodium jansson libmnl libcap libmicrohttpd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS := $(shell pkg-config --libs $(PKGS)) -lev -ldl -lm

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

.PHONY: all check layers unit emu-test e2e demo bench fuzz fuzz-long soak install clean format
all: tuntuntun tuntunctl $(PLUGINS) $(B)/ttt-linkemu

$(B)/rel/%.o: %.c $(CORE_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/san/%.o: %.c $(CORE_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(SAN_FLAGS) -c -o $@ $<

# The built-in plugin directory follows PREFIX: rebuild what embeds it when
# PREFIX changes (e.g. `make install PREFIX=/usr` after a plain `make`).
.PHONY: FORCE
$(B)/plugindir.stamp: FORCE
	@mkdir -p $(B)
	@echo '$(PLUGINDIR)' | cmp -s - $@ || echo '$(PLUGINDIR)' > $@
$(B)/rel/core/sched/sched_host.o $(B)/san/core/sched/sched_host.o: $(B)/plugindir.stamp
$(B)/rel/core/ctlcmd.o $(B)/san/core/ctlcmd.o: VERSION

# The live monitoring page, compiled into core/ctl/httpd.c as a byte array.
$(B)/gen/www_index.h: core/ctl/www/index.html
	@mkdir -p $(dir $@)
	{ echo 'static const unsigned char www_index_html[] = {'; \
	  od -An -v -tx1 $< | sed 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '};'; } > $@.tmp && mv $@.tmp $@
$(B)/rel/core/ctl/httpd.o $(B)/san/core/ctl/httpd.o: $(B)/gen/www_index.h

$(B)/libttt.a: $(CORE_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(B)/libttt-san.a: $(SAN_OBJS)
	@rm -f $@
	ar rcs $@ $^

tuntuntun: $(B)/rel/core/main.o $(B)/libttt.a
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

tuntunctl: $(B)/rel/core/ctl/tuntunctl.o $(B)/libttt.a
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

# Plugins see only the public header, exactly as a third party does.
.SECONDEXPANSION:
plugins.d/%.so: schedulers/$$(subst -,_,%).c include/tuntuntun/sched.h
	@mkdir -p plugins.d
	$(CC) -std=gnu11 $(WARN) -Iinclude $(CFLAGS) -fPIC -shared \
		-fvisibility=hidden -o $@ $<

$(B)/testplugins/%.so: tests/unit/plugins/%.c include/tuntuntun/sched.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(WARN) -Iinclude -O1 -g -fPIC -shared -o $@ $<

$(B)/ttt-linkemu: $(EMU_SRCS) $(wildcard tests/emu/*.h) core/base/log.c core/base/log.h
	@mkdir -p $(B)
	$(CC) $(ALL_CFLAGS) -o $@ $(EMU_SRCS) -lev -lm

# Each unit test links the sanitized library; plugin tests also compile the
# plugin's source in directly so its static functions can be called.
$(B)/san/tests/%: tests/unit/%.c $(B)/libttt-san.a $(wildcard tests/unit/*.h) $(PLUGIN_SRCS)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(SAN_FLAGS) -Itests/unit -o $@ $< $(B)/libttt-san.a \
		$(PKG_LIBS) $(shell pkg-config --libs cmocka)

$(B)/rel/bench/%: tests/bench/%.c $(B)/libttt.a $(PLUGINS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(B)/libttt.a $(PKG_LIBS)

# The link emulator's model tests (its sources, minus its main).
EMU_LIB_SRCS = $(filter-out tests/emu/emu_main.c,$(EMU_SRCS))
$(B)/san/tests/test_emu: tests/emu/unit/test_emu.c $(EMU_SRCS) $(wildcard tests/emu/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(SAN_FLAGS) -Itests/emu -o $@ $< $(EMU_LIB_SRCS) -lev -lm \
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

# Keeps going after a failing stage so one run shows every failure.
check: all
	@rc=0; $(MAKE) --no-print-directory layers || rc=1; \
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

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(PLUGINDIR) $(DESTDIR)$(INCDIR)/tuntuntun \
		$(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(SYSCONFDIR)/tuntuntun
	install -m 0755 tuntuntun tuntunctl $(DESTDIR)$(BINDIR)/
	install -m 0755 $(PLUGINS) $(DESTDIR)$(PLUGINDIR)/
	install -m 0644 include/tuntuntun/sched.h $(DESTDIR)$(INCDIR)/tuntuntun/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@PLUGINDIR@|$(PLUGINDIR)|g' \
		-e 's|@VERSION@|$(VERSION)|g' \
		tuntuntun.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/tuntuntun.pc
	install -m 0644 examples/client.yaml examples/server.yaml $(DESTDIR)$(SYSCONFDIR)/tuntuntun/

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(B) tuntuntun tuntunctl plugins.d/*.so
