//! Which TCP sockets get keepalive, and which options: the one decision, shared by the
//! preloaded library, `keepalive --attach` and the seccomp supervisor.
//!
//! Pure code: `decide` takes the settings and the facts known about one socket and returns a
//! `Decision`. It never reads or sets anything, so the hot path stays the caller's to keep
//! cheap: facts start `Unknown`, and `decide` answers `Decision::Need(fact)` when it cannot go
//! on without one. The caller gathers that fact and asks again, with it `Known` or, when it
//! cannot be read, `Unavailable` (left `Unknown`, the same question comes back). A socket with keepalive on at
//! `connect()` costs one `getsockopt(SO_KEEPALIVE)`, as it must.
//!
//! `no_std`, no allocation, no panic, no dependency but `keepalive-config`; the kernel's numbers
//! it needs are in `linux`.
//!
//! # How the library's moments map on it
//!
//! | hook, settings | `Facts` given for free | facts then asked, in order |
//! |---|---|---|
//! | `socket()` | `Moment::Socket`, `tcp` from `linux::is_tcp_request` | none: `SetAll`, `LeaveAlone(NotTcp)` or, with side or peer rules, `LeaveAlone(WaitingForPeer)` (the library learns the fresh defaults from that socket then) |
//! | `connect()`, no side or peer rules | `Moment::Connect` | `Held` (force: is this socket held), `Keepalive` (not force), `Tcp`, `State` (not force), then `Fresh` and `Timers` (not force, only with timers configured) |
//! | `connect()`, `--side server` | `Moment::Connect` | none: `LeaveAlone(SideServer)` |
//! | `connect()`, `--side client` | `Moment::Connect` | `Keepalive` (not force), `Tcp`, `State` (not force), `Fresh`, `Timers`; never `Held`: with side or peer rules nothing is held |
//! | `connect()`, peer rules | `Moment::Connect`, then `peer` from the address, read through the kernel | as above, then `Peer`; when the address cannot be read before the call, the library asks again after a `connect()` that started, with `Moment::Connected` (no `State`) |
//! | `accept()`, `accept4()` | `Moment::Accept`; `held` is about the listener | `Held` (force, no side or peer rules), `Keepalive`, `Tcp`, `Peer` (with peer rules, from `getpeername`), `Fresh`, `Timers`. `LeaveAlone(Held)`: the accepted socket has the listener's options and is held too |
//! | `setsockopt()` in force mode | `Moment::Setsockopt { level, name }` | `Held`, then `PutBack(option)` |
//!
//! `Decision::SetAll` sets `Options::of(settings)` in order; `SetUnchosen(kept)` sets
//! `Options::except(kept)` (the library's `carry_out::set_unchosen`); in force mode a socket is held
//! after `SetAll` and released after any `LeaveAlone` but `LeaveAlone(Held)` (the library:
//! except at `Setsockopt`, where only a socket found not held is forgotten).
//!
//! The library's debug lines print `Reason::text`, except for `NotTcp` and `Unreadable` at
//! `connect()`/`accept()`, which it leaves silent.
//!
//! The library (`src/moments.rs`) gathers `tcp` from `SO_PROTOCOL`, then at `connect()` the
//! state (which only a TCP socket has: it stands for `SO_TYPE`), at `accept()` nothing more (a
//! stream socket), elsewhere `SO_TYPE`: a `SOCK_RAW` socket made with protocol 6 reports
//! `SO_PROTOCOL` 6 too.
//!
//! # From outside the process
//!
//! `Moment::Attach` (an existing socket in a running process) takes its kind, then its state: a
//! listener is decided as at `listen()` (its accepted connections inherit its options), a
//! connection or a socket not yet connected as at `connect()` or `accept()` but without the
//! library's bookkeeping: `held` is never asked, and with `--side`, `Role` says which side it
//! is. A closing socket is left alone. `Moment::Listen`, `Moment::Connect` and
//! `Moment::Accept` serve the supervisor, which traps those calls.

#![no_std]

mod decide;
pub mod linux;
mod options;

pub use decide::{Decision, Fact, Facts, Moment, Need, Reason, Role, decide};
pub use linux::TcpState;
pub use options::{Kept, Options, SocketOption, Timer, Timers, configured};

#[cfg(test)]
mod tests;
