//! Started sign-ins waiting for their callback: state → (provider, PKCE verifier,
//! start time). Bounded twice over, so unauthenticated `begin` calls cannot grow it
//! without limit: entries expire after a TTL (swept on every insert) and beyond
//! `max` entries the oldest is dropped. A state is taken out on its first use,
//! whether that use then succeeds or not, so it is single use.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use tokio::time::Instant;

use super::Provider;

/// One started sign-in.
#[derive(Clone, PartialEq, Eq)]
pub struct Pending {
    pub provider: Provider,
    pub verifier: String,
    pub created: Instant,
    seq: u64,
}

impl std::fmt::Debug for Pending {
    // The verifier is a secret until the code exchange.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("provider", &self.provider)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

pub struct PendingMap {
    by_state: HashMap<String, Pending>,
    /// Insertion order (`seq` → state), oldest first: what the sweep and the bound walk.
    by_age: BTreeMap<u64, String>,
    next_seq: u64,
    ttl: Duration,
    max: usize,
}

impl PendingMap {
    /// `max` is at least 1.
    pub fn new(ttl: Duration, max: usize) -> Self {
        PendingMap {
            by_state: HashMap::new(),
            by_age: BTreeMap::new(),
            next_seq: 0,
            ttl,
            max: max.max(1),
        }
    }

    pub fn len(&self) -> usize {
        self.by_state.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_state.is_empty()
    }

    fn expired(ttl: Duration, p: &Pending, now: Instant) -> bool {
        now.saturating_duration_since(p.created) >= ttl
    }

    /// Records a sign-in started at `now`, after dropping expired entries and, if
    /// still full, the oldest ones.
    pub fn insert(&mut self, state: String, provider: Provider, verifier: String, now: Instant) {
        self.sweep(now);
        while self.by_state.len() >= self.max {
            let Some((_, oldest)) = self.by_age.pop_first() else {
                break;
            };
            self.by_state.remove(&oldest);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some(old) = self.by_state.insert(
            state.clone(),
            Pending {
                provider,
                verifier,
                created: now,
                seq,
            },
        ) {
            // 256 random bits do not collide; keep the indexes consistent regardless.
            self.by_age.remove(&old.seq);
        }
        self.by_age.insert(seq, state);
    }

    /// Drops entries whose TTL has passed at `now` (oldest first, stopping at the
    /// first live one: entries are inserted in time order).
    pub fn sweep(&mut self, now: Instant) {
        while let Some(entry) = self.by_age.first_entry() {
            let live = self
                .by_state
                .get(entry.get())
                .is_some_and(|p| !Self::expired(self.ttl, p, now));
            if live {
                break;
            }
            let state = entry.remove();
            self.by_state.remove(&state);
        }
    }

    /// Removes `state` and returns it if it was started for `provider` and has not
    /// expired at `now`. The entry is gone afterwards in every case.
    pub fn take(&mut self, state: &str, provider: Provider, now: Instant) -> Option<Pending> {
        let p = self.by_state.remove(state)?;
        self.by_age.remove(&p.seq);
        (p.provider == provider && !Self::expired(self.ttl, &p, now)).then_some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(600);

    fn add(m: &mut PendingMap, state: &str, now: Instant) {
        m.insert(state.into(), Provider::Google, format!("v-{state}"), now);
    }

    #[test]
    fn single_use_and_provider_bound() {
        let now = Instant::now();
        let mut m = PendingMap::new(TTL, 10);
        add(&mut m, "a", now);
        add(&mut m, "b", now);
        let got = m.take("a", Provider::Google, now).unwrap();
        assert_eq!(got.verifier, "v-a");
        assert_eq!(got.provider, Provider::Google);
        assert!(m.take("a", Provider::Google, now).is_none(), "reused");
        assert!(m.take("zzz", Provider::Google, now).is_none(), "unknown");
        // Presented to the wrong provider: refused, and burnt all the same.
        assert!(m.take("b", Provider::GitHub, now).is_none());
        assert!(m.take("b", Provider::Google, now).is_none());
        assert!(m.is_empty() && m.by_age.is_empty());
    }

    #[test]
    fn expiry_at_take_and_by_sweep() {
        let t0 = Instant::now();
        let mut m = PendingMap::new(TTL, 10);
        add(&mut m, "old", t0);
        add(&mut m, "young", t0 + Duration::from_secs(300));
        let just_before = t0 + TTL - Duration::from_millis(1);
        assert!(m.take("old", Provider::Google, just_before).is_some());
        add(&mut m, "old2", t0);
        assert!(
            m.take("old2", Provider::Google, t0 + TTL).is_none(),
            "at TTL"
        );
        // A later insert sweeps what has expired by then, and only that.
        add(&mut m, "new", t0 + TTL + Duration::from_secs(1));
        assert_eq!(m.len(), 2);
        let later = t0 + Duration::from_secs(900) + Duration::from_millis(1);
        m.sweep(later);
        assert_eq!(m.len(), 1);
        assert!(m.take("new", Provider::Google, later).is_some());
        assert_eq!((m.len(), m.by_age.len()), (0, 0));
    }

    #[test]
    fn bound_evicts_the_oldest() {
        let t0 = Instant::now();
        let mut m = PendingMap::new(TTL, 3);
        for (i, s) in ["s0", "s1", "s2", "s3", "s4"].iter().enumerate() {
            add(&mut m, s, t0 + Duration::from_secs(i as u64));
            assert!(m.len() <= 3);
        }
        assert_eq!(m.len(), 3);
        let now = t0 + Duration::from_secs(5);
        assert!(m.take("s0", Provider::Google, now).is_none());
        assert!(m.take("s1", Provider::Google, now).is_none());
        // Taking one frees a slot: the next insert evicts nothing.
        assert!(m.take("s3", Provider::Google, now).is_some());
        add(&mut m, "s5", now);
        for s in ["s2", "s4", "s5"] {
            assert!(m.take(s, Provider::Google, now).is_some(), "{s}");
        }
        assert_eq!((m.len(), m.by_age.len()), (0, 0));
    }

    #[test]
    fn debug_hides_the_verifier() {
        let mut m = PendingMap::new(TTL, 3);
        add(&mut m, "a", Instant::now());
        let p = m.take("a", Provider::Google, Instant::now()).unwrap();
        let shown = format!("{p:?}");
        assert!(
            !shown.contains("v-a") && shown.contains("Google"),
            "{shown}"
        );
    }
}
