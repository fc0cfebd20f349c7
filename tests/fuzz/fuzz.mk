# tests/fuzz/fuzz.mk - the libFuzzer targets, included by the Makefile.
#
# The library sources are compiled again with clang into build/fuzz/obj
# (coverage hooks, ASan, UBSan) and archived, so each fuzzer links only the
# objects it needs. Every tests/fuzz/fuzz_NAME.c is one target,
# build/fuzz/fuzz_NAME.
#
#   make fuzz-build             build every fuzzer
#   make fuzz                   run each for FUZZ_SECONDS (default 60); new inputs
#                               grow tests/fuzz/corpus/NAME/, crashes go to
#                               tests/fuzz/crashes/
#   make fuzz FUZZ_TARGETS=http only some of them
#
# Before committing a grown corpus, shrink it to the inputs that add coverage:
#   build/fuzz/fuzz_NAME -set_cover_merge=1 -use_counters=0 NEW tests/fuzz/corpus/NAME
#
# tests/fuzz/run.sh SECONDS replays the corpus and the regression inputs and
# fuzzes briefly without touching the corpus: what `make test` runs.

FUZZ_CC      ?= clang
FUZZ_BUILD   := build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_ALL     := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_TARGETS ?= $(FUZZ_ALL)
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer $(WARN) -pthread -Iinclude \
                -DWCS_VERSION='"fuzz"' $(FUZZ_SAN)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o) $(FUZZ_BUILD)/obj/sinks/dashboard/assets.o
FUZZ_BINS    := $(FUZZ_ALL:%=$(FUZZ_BUILD)/fuzz_%)

.PHONY: fuzz fuzz-build

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@tests/fuzz/run.sh --grow $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# Library objects: instrumented for coverage, no fuzzer main.
$(FUZZ_BUILD)/obj/%.o: %.c $(BUILD)/.test-deps-ok
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/obj/sinks/dashboard/assets.o: sinks/dashboard/assets.S $(ASSETS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -c $< -o $@

$(FUZZ_BUILD)/libwcstream.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_BUILD)/libwcstream.a
	@mkdir -p $(FUZZ_BUILD)/obj/tests/fuzz
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(PKG_CFLAGS) -MMD -MP \
	  -MF $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_$*.d -o $@ $< $(FUZZ_BUILD)/libwcstream.a \
	  $(LDLIBS)

-include $(shell find $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)
