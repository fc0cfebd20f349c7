# wcstream - build, run, test, bench.
#
#   make          release build: build/wcstream (-O2)
#   make run      install what is missing, build, start the default service
#   make test     lint, fuzzers, valgrind, unit + integration tests on release and ASan+UBSan
#   make bench    throughput, memory, state and latency figures against mawk, gawk,
#                 sort | uniq -c and a plain C counter (tests/bench/bench.sh)
#   make fuzz     every libFuzzer target for FUZZ_SECONDS each (tests/fuzz/)
#   make soak     all sources and sinks at once for SOAK_SECONDS; RSS and fds over time
#   make lint     cppcheck and clang-tidy on the project's code
#   make kafka-demo  a local Kafka-protocol broker, a producer, wcstream on it
#   make deps     install missing Debian packages (root) or print the command
#   make clean

CC       ?= cc
BUILD    ?= build
PKGS     := sqlite3 libcjson libxxhash libutf8proc libpcre2-8 rdkafka libwebsockets
# Debian packages: what wcstream builds with (make, make run), then the
# tools the tests, fuzzers, lint and bench drive. make deps checks both.
BUILD_PKGS := pkg-config libsqlite3-dev libcjson-dev libxxhash-dev libutf8proc-dev \
              libpcre2-dev librdkafka-dev libwebsockets-dev
TEST_PKGS  := libcriterion-dev netcat-openbsd sqlite3 mawk gawk time python3 python3-websockets \
              kcat curl chromium clang libclang-rt-14-dev valgrind cppcheck clang-tidy iproute2 \
              procps
DEB_PKGS   := $(BUILD_PKGS) $(TEST_PKGS)

VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
ifneq ($(CI),)
WARN     += -Werror
endif
OPT      ?= -O2 -g
CFLAGS   := -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -pthread -Iinclude \
            -DWCS_VERSION='"$(VERSION)"' $(EXTRA_CFLAGS)
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LDLIBS   = $(PKG_LIBS) -pthread -lm

LIB_SRC  := $(filter-out src/main.c,$(wildcard src/*.c connectors/*.c sinks/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/sinks/dashboard/assets.o
ASSETS   := $(wildcard sinks/dashboard/*.html sinks/dashboard/*.js sinks/dashboard/*.css \
                       sinks/dashboard/*.svg)
UNIT_SRC := $(wildcard tests/unit/*.c)
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/obj/%.o)
SUPPORT  := $(BUILD)/gen_corpus $(BUILD)/wc_baseline

.PHONY: all run test bench deps clean asan kafka-demo lint soak FORCE

all: $(BUILD)/wcstream

$(BUILD)/.deps-ok: Makefile
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(BUILD_PKGS)"
	@mkdir -p $(BUILD) && touch $@

# The tools as well, once the build's packages are there.
$(BUILD)/.test-deps-ok: Makefile $(BUILD)/.deps-ok
	@$(MAKE) --no-print-directory deps
	@touch $@

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "installing:$$missing"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing) >/dev/null \
	    || { echo "apt-get install failed:$$missing" >&2; exit 1; }; \
	else \
	  echo "missing packages; run: sudo apt-get install -y$$missing" >&2; exit 1; \
	fi

$(BUILD)/obj/%.o: %.c $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

# The dashboard is built in: .incbin reads the files at assembly time.
$(BUILD)/obj/sinks/dashboard/assets.o: sinks/dashboard/assets.S $(ASSETS)
	@mkdir -p $(dir $@)
	$(CC) -c $< -o $@

$(BUILD)/wcstream: $(BUILD)/obj/src/main.o $(LIB_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# The unit tests wrap the project's allocations to inject failures
# (tests/unit/fault_alloc.c); libraries allocate as usual.
UNIT_WRAP := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=strndup
$(UNIT_OBJ): $(BUILD)/.test-deps-ok
$(BUILD)/unit_tests: $(UNIT_OBJ) $(LIB_OBJ)
	$(CC) $(CFLAGS) $(UNIT_WRAP) -o $@ $^ $(LDLIBS) -lcriterion

$(BUILD)/%: tests/bench/%.c $(BUILD)/.deps-ok
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)

$(BUILD)/kafka_broker: tests/support/kafka_broker.c $(BUILD)/.deps-ok
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)

# --version names the commit: config.o is rebuilt when VERSION changes.
$(BUILD)/version: FORCE
	@mkdir -p $(BUILD) && echo '$(VERSION)' | cmp -s - $@ || echo '$(VERSION)' >$@
$(BUILD)/obj/src/config.o: $(BUILD)/version

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# The sanitizer build lives in its own tree so both can coexist.
asan:
	@$(MAKE) --no-print-directory BUILD=build/asan OPT="-O1 -g -fno-omit-frame-pointer \
	  -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	  build/asan/wcstream build/asan/unit_tests

run: $(BUILD)/wcstream
	@echo "wcstream: listening on 127.0.0.1:9999, state in wcstream.db"
	@echo "  dashboard:                        http://127.0.0.1:8080/"
	@echo "  send text from another terminal:  nc -N 127.0.0.1 9999 < README.md   (any text file)"
	@echo "  stop with Ctrl-C"
	./$(BUILD)/wcstream --source listen://127.0.0.1:9999 --sink console --sink ws://127.0.0.1:8080 \
	  --trigger 1s --state wcstream.db

test: $(BUILD)/.test-deps-ok $(BUILD)/wcstream $(BUILD)/unit_tests $(BUILD)/kafka_broker asan fuzz-build
	@tests/run.sh

bench: $(BUILD)/.test-deps-ok $(BUILD)/wcstream $(SUPPORT) $(BUILD)/count_sum $(BUILD)/kafka_broker
	@tests/bench/bench.sh

# Static analysis of the product's code; both must be silent (.clang-tidy
# says which checks and why). clang-tidy runs a file per job on every core.
LINT_SRC := src/main.c $(LIB_SRC)
lint: $(BUILD)/.test-deps-ok
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability,style \
	  --std=c11 -D_GNU_SOURCE --inline-suppr --suppress=missingIncludeSystem -Iinclude $(LINT_SRC)
	printf '%s\n' $(LINT_SRC) | xargs -P "$$(nproc)" -n 1 sh -c 'clang-tidy --quiet "$$0" -- \
	  -std=c11 -D_GNU_SOURCE -DWCS_VERSION=\"lint\" -Iinclude $(PKG_CFLAGS) 2>/dev/null'

soak: $(BUILD)/.test-deps-ok $(BUILD)/wcstream $(BUILD)/kafka_broker
	@tests/soak/soak.sh

# The fuzzers (clang, libFuzzer) build in build/fuzz; see tests/fuzz/fuzz.mk.
-include tests/fuzz/fuzz.mk

kafka-demo: $(BUILD)/.test-deps-ok $(BUILD)/wcstream $(BUILD)/kafka_broker
	@tests/support/kafka_demo.sh

clean:
	rm -rf build
