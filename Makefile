# libkeepalive: `make`, `make demo`, `make test`, `make fuzz`, `make bench`, `make install`.

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
DESTDIR ?=
CARGO ?= cargo
CC ?= cc
MUSL_CC ?= musl-gcc
CFLAGS ?= -O2
C_WARNINGS = -Wall -Wextra -Werror -std=gnu11

LIBRARY = target/release/libkeepalive.so
C_BUILD = target/c-tests
C_PROGRAMS = $(basename $(notdir $(filter-out c-tests/lib%.c,$(wildcard c-tests/*.c))))
C_LIBRARIES = $(basename $(notdir $(wildcard c-tests/lib*.c)))
C_HEADERS = $(wildcard c-tests/*.h)

.PHONY: all c-tests test fuzz demo bench install uninstall clean

all: $(LIBRARY)

$(LIBRARY): FORCE
	$(CARGO) build --release -p libkeepalive
FORCE:

# Every C test program is built twice, against glibc and against musl, to run under the same .so.
# Only `early` links libearly.so, whose constructor uses our hooks before ours has run.
c-tests: $(foreach libc,glibc musl,$(addprefix $(C_BUILD)/$(libc)/,$(C_PROGRAMS) $(addsuffix .so,$(C_LIBRARIES))))

compiler = $(if $(filter $(C_BUILD)/musl/%,$@),$(MUSL_CC),$(CC))
comma := ,
early_link = $(if $(filter early,$(notdir $@)),-L$(@D) -Wl$(comma)-rpath$(comma)'$$ORIGIN' -learly)

.SECONDEXPANSION:
$(C_BUILD)/%.so: c-tests/$$(notdir $$*).c $(C_HEADERS)
	@mkdir -p $(@D)
	$(compiler) $(CFLAGS) $(C_WARNINGS) -shared -fPIC -o $@ $<
$(C_BUILD)/%: c-tests/$$(notdir $$*).c $(C_HEADERS) $$(if $$(filter early,$$(notdir $$*)),$$(@D)/libearly.so)
	@mkdir -p $(@D)
	$(compiler) $(CFLAGS) $(C_WARNINGS) -o $@ $< $(early_link)

test: all c-tests
	$(CARGO) test --workspace --release

# The parsers' property tests, with FUZZ_CASES cases per property instead of `make test`'s 20000.
FUZZ_CASES ?= 1000000
fuzz:
	FUZZ_CASES=$(FUZZ_CASES) $(CARGO) test --release -p keepalive-config --test properties --test rule_properties -- --nocapture

demo: all c-tests
	./scripts/demo.sh

bench: all
	./bench/run.sh

install: all
	install -d $(DESTDIR)$(LIBDIR)
	install -m 0755 $(LIBRARY) $(DESTDIR)$(LIBDIR)/libkeepalive.so

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libkeepalive.so

clean:
	$(CARGO) clean
