# scanhost — build, test, install.  `make help` lists the targets.
PREFIX   ?= /usr/local
CC       ?= cc
VERSION  := 0.1.0

PKGS     := hiredis luajit
CPPFLAGS += -D_POSIX_C_SOURCE=200809L -DSCANHOST_VERSION=\"$(VERSION)\" \
            $(shell pkg-config --cflags $(PKGS) openssl libmicrohttpd)
CFLAGS   ?= -O2 -g
# Truncating snprintf is deliberate (log lines, error texts); paths are checked.
CFLAGS   += -std=c11 -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wno-unused-parameter \
            -Wno-format-truncation -pthread
LDLIBS   += $(shell pkg-config --libs $(PKGS)) -lev -lm -ldl -lpthread
SSL_LIBS := $(shell pkg-config --libs openssl)
HTTP_LIBS := $(shell pkg-config --libs libmicrohttpd)

CORE_SRCS := $(filter-out core/main.c,$(wildcard core/*.c))
CORE_HDRS := $(wildcard core/*.h)
OBJS      := $(CORE_SRCS:core/%.c=build/obj/%.o)
# The daemon maps OpenSSL (~1.7 MB resident) only for rediss://: tls.c is a
# module it loads then (core/tls_client.c); tests link tls.c in. Likewise
# libmicrohttpd (and the GnuTLS it brings) only for --http: http.c.
DAEMON_OBJS := $(filter-out build/obj/tls.o build/obj/http.o,$(OBJS))
TLS_MODULE  := bin/scanhost-tls.so
HTTP_MODULE := bin/scanhost-http.so
PIC_OBJS  := $(CORE_SRCS:core/%.c=build/pic/%.o)
ASAN_OBJS := $(CORE_SRCS:core/%.c=build/asan/%.o)
SANITIZE  := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=build/unit/%)

.PHONY: all deps test spec demo unit bench faults fuzz install lint format clean help

# keep the sanitizer objects between runs (they are only pattern-rule inputs)
.SECONDARY: $(ASAN_OBJS) $(PIC_OBJS) $(OBJS)

all: bin/scanhost $(TLS_MODULE) $(HTTP_MODULE) build/scanhost_test.so

help:
	@echo "make            (= make all) build bin/scanhost and the busted test module"
	@echo "make deps       install the Debian packages scanhost needs (apt-get)"
	@echo "make unit       build the C unit tests (ASan/UBSan) into build/unit/"
	@echo "make test       every test layer; ends with 'N passed, N failed'"
	@echo "make spec SPEC=spec/x_spec.lua   one busted spec file (default: all of spec/)"
	@echo "make demo       private redis-server + demo workload + scanhost in the foreground"
	@echo "make install    PREFIX=/usr/local: binary, stock scanners/lua-lib/config; keeps"
	@echo "                every file the user added or changed (see README)"
	@echo "make bench      drain, idle-cycle, TLS and claims benchmarks, side by side"
	@echo "make faults     the full fault suite (the test run includes its short version)"
	@echo "make fuzz       libFuzzer targets, longer runs"
	@echo "make lint       clang-tidy, cppcheck and the clang-format check over the C sources"
	@echo "make format     apply .clang-format to the C sources"
	@echo "make clean      remove bin/ and build/"
	@echo "make help       this list"

deps:
	sh .ci/install-deps

bin/scanhost: build/obj/main.o $(DAEMON_OBJS)
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(TLS_MODULE): build/pic/tls.o
	@mkdir -p bin
	$(CC) $(CFLAGS) -shared -o $@ $^ $(LDFLAGS) $(SSL_LIBS)

$(HTTP_MODULE): build/pic/http.o
	@mkdir -p bin
	$(CC) $(CFLAGS) -shared -o $@ $^ $(LDFLAGS) $(HTTP_LIBS) -lev

build/obj/%.o: core/%.c $(CORE_HDRS)
	@mkdir -p build/obj
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

build/pic/%.o: core/%.c $(CORE_HDRS)
	@mkdir -p build/pic
	$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -c -o $@ $<

build/asan/%.o: core/%.c $(CORE_HDRS)
	@mkdir -p build/asan
	$(CC) $(CPPFLAGS) $(CFLAGS) $(SANITIZE) -c -o $@ $<

# The busted test module links the same core objects as the daemon; the Lua
# API symbols come from the luajit executable that loads it.
build/scanhost_test.so: tests/testhost.c $(PIC_OBJS) $(CORE_HDRS)
	$(CC) $(CPPFLAGS) -Icore $(CFLAGS) -fPIC -shared -o $@ tests/testhost.c $(PIC_OBJS) \
	  $(shell pkg-config --libs hiredis) $(SSL_LIBS) $(HTTP_LIBS) -lev -lm -ldl

build/unit/%: tests/unit/%.c tests/unit/unit.h $(ASAN_OBJS)
	@mkdir -p build/unit
	$(CC) $(CPPFLAGS) -Icore $(CFLAGS) $(SANITIZE) -o $@ $< $(ASAN_OBJS) $(LDLIBS) $(SSL_LIBS) \
	  $(HTTP_LIBS)

unit: $(UNIT_BINS)

# The README's two commands: both install what is missing first.
test:
	sh .ci/install-deps
	$(MAKE) all unit
	sh tests/run-all

SPEC ?= spec
spec: all
	luajit /usr/bin/busted $(SPEC)

demo:
	sh .ci/install-deps
	$(MAKE) all
	sh tests/demo.sh

bench: all
	sh tests/bench/run

faults: all unit
	sh tests/faults/run

fuzz:
	sh tests/fuzz/run

# Never deletes or overwrites a file the user added or changed (tools/install.sh).
install: bin/scanhost $(TLS_MODULE) $(HTTP_MODULE)
	sh tools/install.sh $(DESTDIR)$(PREFIX)

FORMAT_SRCS = core/*.c core/*.h tests/*.c tests/unit/*.c tests/unit/*.h tests/fuzz/*.c tests/bench/*.c

lint:
	clang-tidy --quiet $(CORE_SRCS) core/main.c -- $(CPPFLAGS) -std=c11
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --suppress=missingIncludeSystem --inline-suppr $(CPPFLAGS) core/
	clang-format --dry-run --Werror $(FORMAT_SRCS)

format:
	clang-format -i $(FORMAT_SRCS)

clean:
	rm -rf bin build
