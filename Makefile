# libkeepalive: `make`, `make demo`, `make test`, `make fuzz`, `make bench`, `make install`, `make deb`.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=
CARGO ?= cargo
CC ?= cc
MUSL_CC ?= musl-gcc
CFLAGS ?= -O2
C_WARNINGS = -Wall -Wextra -Werror -std=gnu11

LIBRARY = target/release/libkeepalive.so
COMMAND = target/release/keepalive
C_BUILD = target/c-tests
C_PROGRAMS = $(basename $(notdir $(filter-out c-tests/lib%.c,$(wildcard c-tests/*.c))))
C_LIBRARIES = $(basename $(notdir $(wildcard c-tests/lib*.c)))
C_HEADERS = $(wildcard c-tests/*.h)

.PHONY: all c-tests test test-aarch64 fuzz demo bench install uninstall deb clean

all: $(LIBRARY) $(COMMAND)

# One cargo run builds both; the command's crates never turn on a feature the library avoids.
$(LIBRARY) $(COMMAND) &: FORCE
	$(CARGO) build --release -p libkeepalive -p keepalive-cli
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

# Clippy first (about 45 s from a fresh clone, a second when nothing changed): every unsafe block
# says why it is sound (clippy::undocumented_unsafe_blocks, in Cargo.toml's [workspace.lints]).
test: all c-tests
	$(CARGO) clippy --workspace --all-targets --release -- -D warnings
	$(CARGO) test --workspace --release

# Cross-built, run under qemu-user; not part of `make test` (see README, DEVELOPMENT).
test-aarch64:
	./scripts/test-aarch64.sh

# The parsers' property tests, with FUZZ_CASES cases per property instead of `make test`'s 20000.
FUZZ_CASES ?= 1000000
fuzz:
	FUZZ_CASES=$(FUZZ_CASES) $(CARGO) test --release -p keepalive-config --test properties --test rule_properties -- --nocapture

demo: all c-tests
	./scripts/demo.sh

bench: all
	./bench/run.sh

# The installed command finds the library at ../lib/ (or ../lib/<multiarch>/) from its own directory.
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7
	install -m 0755 $(COMMAND) $(DESTDIR)$(BINDIR)/keepalive
	install -m 0644 $(LIBRARY) $(DESTDIR)$(LIBDIR)/libkeepalive.so
	install -m 0644 man/keepalive.1 $(DESTDIR)$(MANDIR)/man1/keepalive.1
	install -m 0644 man/libkeepalive.7 $(DESTDIR)$(MANDIR)/man7/libkeepalive.7

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/keepalive $(DESTDIR)$(LIBDIR)/libkeepalive.so \
	      $(DESTDIR)$(MANDIR)/man1/keepalive.1 $(DESTDIR)$(MANDIR)/man7/libkeepalive.7

# A Debian package of the same install tree: target/libkeepalive_VERSION_ARCH.deb.
deb: all
	./scripts/deb.sh

clean:
	$(CARGO) clean
