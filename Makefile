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

.PHONY: all c-tests prerequisites test test-aarch64 fuzz demo bench install uninstall deb clean

# `make` always asks cargo, which rebuilds only what changed. The library is a dynamic preload
# module; the command is linked statically (glibc's crt-static: one file that runs in any Linux
# root filesystem, Alpine and distroless included). Rust has no per-crate rustflags, so the
# command's flag goes to its own `cargo rustc`, which passes it to the final link alone.
all:
	$(CARGO) build --release -p libkeepalive
	$(CARGO) rustc --release -p keepalive-cli --bin keepalive -- -C target-feature=+crt-static -C strip=symbols

# Installing and packaging use what `make` built, and build only when nothing is: so that
# `make && sudo make install` works where sudo's PATH has no cargo.
$(LIBRARY) $(COMMAND) &:
	$(MAKE) --no-print-directory all

# Every C test program is built twice, against glibc and against musl, to run under the same .so.
# Only `early` links libearly.so, whose constructor uses our hooks before ours has run.
c-tests: $(foreach libc,glibc musl,$(addprefix $(C_BUILD)/$(libc)/,$(C_PROGRAMS) $(addsuffix .so,$(C_LIBRARIES)))) \
         $(C_BUILD)/static/holder $(C_BUILD)/static-glibc/wire $(C_BUILD)/static-musl/wire

# A program no preloaded library reaches, for `keepalive --attach`.
$(C_BUILD)/static/holder: c-tests/holder.c
	@mkdir -p $(@D)
	$(MUSL_CC) $(CFLAGS) $(C_WARNINGS) -static -o $@ $<

# `wire` linked statically, which LD_PRELOAD never reaches: the supervisor's tests (--via seccomp).
$(C_BUILD)/static-glibc/wire: c-tests/wire.c $(C_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(C_WARNINGS) -static -o $@ $<
$(C_BUILD)/static-musl/wire: c-tests/wire.c $(C_HEADERS)
	@mkdir -p $(@D)
	$(MUSL_CC) $(CFLAGS) $(C_WARNINGS) -static -o $@ $<

# `cancel`'s cleanup handlers run by unwinding, through the library's frames.
$(C_BUILD)/glibc/cancel $(C_BUILD)/musl/cancel: CFLAGS += -fexceptions -pthread

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

# Every command the tests need (scripts/prerequisites.txt) is checked before anything is built;
# as root with apt-get the missing packages are installed, otherwise one message names them all.
prerequisites:
	./scripts/prerequisites.sh

# Formatting as rustfmt.toml says, then clippy (about 45 s from a fresh clone, a second when
# nothing changed): every unsafe block says why it is sound (clippy::undocumented_unsafe_blocks, in Cargo.toml's [workspace.lints]).
test: prerequisites
	$(MAKE) --no-print-directory all c-tests
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --release -- -D warnings
	$(CARGO) test --workspace --release

# Cross-built, run under qemu-user; not part of `make test` (see docs/development.md).
test-aarch64:
	./scripts/test-aarch64.sh

# The parsers' property tests, with FUZZ_CASES cases per property instead of `make test`'s 20000.
FUZZ_CASES ?= 1000000
fuzz:
	FUZZ_CASES=$(FUZZ_CASES) $(CARGO) test --release -p keepalive-config --test properties --test rule_properties -- --nocapture

# The demo needs one C program, built against glibc: no musl-gcc needed.
demo: all $(C_BUILD)/glibc/peek
	./scripts/demo.sh

# The library's costs, then --attach's and the supervisor's (--via seccomp), each table with its
# checks; every table is printed even when an earlier check fails.
bench: all c-tests
	status=0; ./bench/run.sh || status=1; ./bench/attach.sh || status=1; ./bench/supervisor.sh || status=1; \
	exit $$status

# The installed command finds the library at ../lib/ (or ../lib/<multiarch>/) from its own directory.
install: $(LIBRARY) $(COMMAND)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7
	install -m 0755 $(COMMAND) $(DESTDIR)$(BINDIR)/keepalive
	install -m 0644 $(LIBRARY) $(DESTDIR)$(LIBDIR)/libkeepalive.so
	install -m 0644 man/keepalive.1 $(DESTDIR)$(MANDIR)/man1/keepalive.1
	install -m 0644 man/libkeepalive.7 $(DESTDIR)$(MANDIR)/man7/libkeepalive.7

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/keepalive $(DESTDIR)$(LIBDIR)/libkeepalive.so \
	      $(DESTDIR)$(MANDIR)/man1/keepalive.1 $(DESTDIR)$(MANDIR)/man7/libkeepalive.7

# A Debian package of the same install tree: target/libkeepalive_VERSION_ARCH.deb.
deb: $(LIBRARY) $(COMMAND)
	./scripts/deb.sh

clean:
	$(CARGO) clean
