//! The settings of this process, with the options they ask for, computed once at load.

use keepalive_config::Settings;
use keepalive_policy::{Decision, Fact, Facts, Moment, Options, Reason, SocketOption, decide};

#[derive(Clone, Copy)]
pub struct Plan {
    pub enabled: bool,
    pub debug: bool,
    pub force: bool,
    pub settings: Settings,
    /// One option for each configured timer, then `SO_KEEPALIVE` (`Options::of`).
    pub options: Options,
    /// `decide`'s answer for a TCP socket at `socket()`, which depends on the settings alone, is
    /// `SetAll`, without force mode or debug lines: carrying it out is the `setsockopt` calls
    /// alone (`carry_out::set_options`).
    pub plain_at_socket: bool,
    /// At `connect()` (and at `accept()`): a socket with keepalive on is left alone, whatever
    /// else `decide` could learn, with nothing to carry out (no force table, no debug line).
    /// Then that one `getsockopt` is the hook's whole cost.
    pub quiet_if_on_at_connect: bool,
    pub quiet_if_on_at_accept: bool,
}

impl Plan {
    /// Keepalive off, and every other byte zero too: the library's own plan starts as this, in
    /// `.bss` rather than as its size in the file, and so does a copy (a `memset`). Evaluating
    /// the constant checks that zero bytes are a valid `Plan`: a field for which they are not
    /// (a reference, an enum without a zero discriminant) fails to compile.
    // SAFETY: checked by const evaluation, as above.
    pub const OFF: Plan = unsafe { core::mem::MaybeUninit::zeroed().assume_init() };

    /// Derives everything else from `settings`.
    pub fn prepare(&mut self) {
        let settings = &self.settings;
        (self.enabled, self.debug, self.force) = (settings.enabled, settings.debug, settings.force);
        self.options = Options::of(settings);
        let at_socket = decide(settings, &Facts { tcp: Fact::Known(true), ..Facts::at(Moment::Socket) });
        self.plain_at_socket = at_socket == Decision::SetAll && !self.force && !self.debug;
        self.quiet_if_on_at_connect = self.quiet_if_on(Moment::Connect);
        self.quiet_if_on_at_accept = self.quiet_if_on(Moment::Accept);
    }

    /// Whether `decide`, knowing only that keepalive is on, leaves the socket alone for it,
    /// with nothing to carry out: then no other fact is needed.
    fn quiet_if_on(&self, moment: Moment) -> bool {
        let on = Facts { keepalive: Fact::Known(true), ..Facts::at(moment) };
        !self.force && !self.debug && decide(&self.settings, &on) == Decision::LeaveAlone(Reason::KeepaliveOn)
    }

    pub fn options(&self) -> &[SocketOption] {
        self.options.as_slice()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libc::{IPPROTO_TCP, SOL_SOCKET};

    fn plan(settings: &Settings) -> Plan {
        let mut plan = Plan::OFF;
        plan.settings = *settings;
        plan.prepare();
        plan
    }

    #[test]
    fn nothing_configured_sets_only_so_keepalive() {
        let plan = plan(&Settings::DEFAULT);
        let options: Vec<_> = plan.options().iter().map(|o| (o.level, o.name, o.value)).collect();
        assert_eq!(options, [(SOL_SOCKET, libc::SO_KEEPALIVE, 1)]);
        assert!(plan.enabled && !plan.debug);
        assert!(plan.plain_at_socket && plan.quiet_if_on_at_connect && plan.quiet_if_on_at_accept);
    }

    #[test]
    fn only_a_quiet_decision_is_taken_from_so_keepalive_alone() {
        for settings in [
            Settings { debug: true, ..Settings::DEFAULT },
            Settings { force: true, ..Settings::DEFAULT },
            Settings { enabled: false, ..Settings::DEFAULT },
        ] {
            let plan = plan(&settings);
            assert!(!plan.plain_at_socket && !plan.quiet_if_on_at_connect && !plan.quiet_if_on_at_accept);
        }
    }

    #[test]
    fn timers_first_then_so_keepalive() {
        let settings = Settings { idle: Some(20), count: Some(3), user_timeout_ms: Some(0), ..Settings::DEFAULT };
        let options: Vec<_> = plan(&settings).options().iter().map(|o| (o.level, o.name, o.value)).collect();
        let tcp = |name, value| (IPPROTO_TCP, name, value);
        assert_eq!(
            options,
            [
                tcp(libc::TCP_KEEPIDLE, 20),
                tcp(libc::TCP_KEEPCNT, 3),
                tcp(libc::TCP_USER_TIMEOUT, 0),
                (SOL_SOCKET, libc::SO_KEEPALIVE, 1)
            ]
        );
    }

    #[test]
    fn the_largest_user_timeout_fits_a_c_int() {
        let settings = Settings { user_timeout_ms: Some(i32::MAX as u32), ..Settings::DEFAULT };
        assert_eq!(plan(&settings).options()[0].value, i32::MAX);
    }
}
