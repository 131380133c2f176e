//! How many unknown tokens a client address may present before it is refused without
//! asking the store: a leaky bucket per address that only unknown tokens fill. Valid
//! tokens never count — an office of hundreds behind one NAT address, all reconnecting
//! after a restart, is served at once. Every unknown token is charged, also those whose
//! lookups were already under way when the bucket filled, so concurrent guessing gets no
//! more than the rate in the long run. (governor's limiters do not charge past a refusal,
//! so lookups racing the limit would go uncounted; hence this small one.)

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Addresses kept before drained ones are forgotten.
const PRUNE_AT: usize = 4096;

#[derive(Debug)]
pub struct GuessBudget {
    per_sec: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    level: f64,
    at: Instant,
}

impl Bucket {
    fn drained(self, per_sec: f64, now: Instant) -> f64 {
        let gone = now.saturating_duration_since(self.at).as_secs_f64() * per_sec;
        (self.level - gone).max(0.0)
    }
}

impl GuessBudget {
    /// `per_sec` unknown tokens a second, after a first `burst` of them.
    pub fn new(per_sec: u32, burst: u32) -> GuessBudget {
        GuessBudget { per_sec: f64::from(per_sec.max(1)), burst: f64::from(burst.max(1)), buckets: Mutex::default() }
    }

    /// How long `client` must wait before its next uncached token is looked up, if at all.
    pub fn refused(&self, client: IpAddr, now: Instant) -> Option<Duration> {
        let buckets = self.buckets.lock().ok()?;
        let level = buckets.get(&client)?.drained(self.per_sec, now);
        (level + 1.0 > self.burst).then(|| Duration::from_secs_f64((level + 1.0 - self.burst) / self.per_sec))
    }

    /// Charges `client` for a token the store did not know.
    pub fn unknown(&self, client: IpAddr, now: Instant) {
        let Ok(mut buckets) = self.buckets.lock() else { return };
        if buckets.len() >= PRUNE_AT {
            buckets.retain(|_, bucket| bucket.drained(self.per_sec, now) > 0.0);
        }
        let level = buckets.get(&client).map_or(0.0, |b| b.drained(self.per_sec, now));
        buckets.insert(client, Bucket { level: level + 1.0, at: now });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const ELSEWHERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn a_burst_of_unknown_tokens_then_the_rate() {
        let budget = GuessBudget::new(20, 100);
        let now = Instant::now();
        for _ in 0..100 {
            assert_eq!(budget.refused(HOME, now), None);
            budget.unknown(HOME, now);
        }
        let wait = budget.refused(HOME, now).expect("the burst is spent");
        assert!(wait.abs_diff(Duration::from_millis(50)) < Duration::from_micros(1), "one unit drains in 1/20 s");
        assert_eq!(budget.refused(ELSEWHERE, now), None, "another address has its own budget");
        let later = now + Duration::from_millis(51);
        assert_eq!(budget.refused(HOME, later), None);
        budget.unknown(HOME, later);
        assert!(budget.refused(HOME, later).is_some());
        assert_eq!(budget.refused(HOME, now + Duration::from_secs(10)), None, "drained after a pause");
    }

    #[test]
    fn lookups_that_raced_the_limit_are_charged_too() {
        let budget = GuessBudget::new(20, 100);
        let now = Instant::now();
        // 116 lookups passed the check before the first of them was answered.
        for _ in 0..116 {
            budget.unknown(HOME, now);
        }
        // The 16 over the burst are paid for: refused for 17 units of 1/20 s.
        let wait = budget.refused(HOME, now).expect("refused");
        assert!(wait.abs_diff(Duration::from_millis(850)) < Duration::from_micros(1), "{wait:?}");
        assert!(budget.refused(HOME, now + Duration::from_millis(840)).is_some());
        assert_eq!(budget.refused(HOME, now + Duration::from_millis(851)), None);
    }

    #[test]
    fn forgets_drained_addresses_when_many() {
        let budget = GuessBudget::new(20, 100);
        let now = Instant::now();
        for n in 0..PRUNE_AT as u32 {
            budget.unknown(IpAddr::V4(n.into()), now);
        }
        budget.unknown(HOME, now + Duration::from_secs(1));
        let kept = budget.buckets.lock().expect("lock").len();
        assert_eq!(kept, 1, "only the address charged last is remembered");
    }
}
