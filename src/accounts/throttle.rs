//! Rate limits in front of the credential endpoints (governor, GCRA): per client IP
//! and per account, for each of login, register, refresh and the second factor, so
//! neither one address nor a botnet against one account can guess freely. The clock
//! is tokio's (paused in tests like everything else). Keys are swept periodically so
//! the tables stay bounded.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

/// Tokio's monotonic clock as governor sees it: time since the throttle was made.
#[derive(Clone)]
pub struct TokioClock(tokio::time::Instant);

impl Clock for TokioClock {
    type Instant = Duration;
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
}

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, TokioClock, NoOpMiddleware<Duration>>;

/// What is being attempted; each has its own budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Login,
    Register,
    Refresh,
    TwoFactor,
}

/// Most keys kept per table before a sweep drops the idle ones early.
const MAX_KEYS: usize = 100_000;

pub struct Throttle {
    clock: TokioClock,
    per_ip: Keyed<(Action, IpAddr)>,
    per_account: Keyed<(Action, String)>,
}

impl Throttle {
    pub fn new(per_ip_per_min: u32, per_account_per_min: u32) -> Self {
        let clock = TokioClock(tokio::time::Instant::now());
        let quota = |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).expect("n >= 1"));
        Throttle {
            per_ip: RateLimiter::new(
                quota(per_ip_per_min),
                DefaultKeyedStateStore::default(),
                clock.clone(),
            ),
            per_account: RateLimiter::new(
                quota(per_account_per_min),
                DefaultKeyedStateStore::default(),
                clock.clone(),
            ),
            clock,
        }
    }

    /// Takes one attempt from the IP's budget and, if given, the account's; on
    /// refusal, how long until the next attempt would be allowed.
    pub fn check(&self, action: Action, ip: IpAddr, account: Option<&str>) -> Result<(), Duration> {
        let now = self.clock.now();
        if let Err(nu) = self.per_ip.check_key(&(action, ip)) {
            return Err(nu.wait_time_from(now));
        }
        if let Some(account) = account {
            let key = (action, account.to_lowercase());
            if let Err(nu) = self.per_account.check_key(&key) {
                return Err(nu.wait_time_from(now));
            }
        }
        Ok(())
    }

    /// Forgets keys whose budget is full again; called every minute.
    pub fn sweep(&self) {
        self.per_ip.retain_recent();
        self.per_account.retain_recent();
        if self.per_ip.len() > MAX_KEYS || self.per_account.len() > MAX_KEYS {
            tracing::warn!(
                ip_keys = self.per_ip.len(),
                account_keys = self.per_account.len(),
                "rate-limit tables are large"
            );
        }
        self.per_ip.shrink_to_fit();
        self.per_account.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn per_ip_and_per_account_budgets() {
        let t = Throttle::new(5, 3);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..3 {
            t.check(Action::Login, ip, Some("Alice")).unwrap();
        }
        // The account is spent even from another address (case-insensitive).
        let wait = t.check(Action::Login, other, Some("alice")).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        // Other actions have their own budgets.
        t.check(Action::Refresh, ip, Some("alice")).unwrap();
        // The IP's budget: 5 per minute, 4 used so far (3 logins + 1 refresh is separate).
        t.check(Action::Login, ip, None).unwrap();
        t.check(Action::Login, ip, None).unwrap();
        assert!(t.check(Action::Login, ip, None).is_err());
        tokio::time::advance(Duration::from_secs(60)).await;
        t.check(Action::Login, ip, Some("alice")).unwrap();
        t.sweep();
    }
}
