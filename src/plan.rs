//! The settings of this process, with the options they ask for, computed once at load.

use keepalive_config::Settings;
use keepalive_policy::{Options, SocketOption};

#[derive(Clone, Copy)]
pub struct Plan {
    pub enabled: bool,
    pub debug: bool,
    pub force: bool,
    pub settings: Settings,
    /// One option for each configured timer, then `SO_KEEPALIVE` (`Options::of`).
    pub options: Options,
}

impl Plan {
    pub const OFF: Plan =
        Plan { enabled: false, debug: false, force: false, settings: Settings::DEFAULT, options: Options::NONE };

    /// Derives everything else from `settings`.
    pub fn prepare(&mut self) {
        let settings = &self.settings;
        (self.enabled, self.debug, self.force) = (settings.enabled, settings.debug, settings.force);
        self.options = Options::of(settings);
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
