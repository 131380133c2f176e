//! How many live feeds one token and the whole host hold. A feed holds memory (the
//! projector's copy of the tenant for a person) and a task for as long as its client
//! keeps the connection open, so both are bounded: a token (with the sessions made from
//! it) holds at most `per_token` — more than the browser tabs of anyone's day — and the
//! host `per_host`. A feed gives its slot back when it ends, whichever way.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::errors::ApiError;

#[derive(Debug)]
pub struct FeedSlots {
    per_token: usize,
    per_host: usize,
    held: Mutex<Held>,
}

#[derive(Debug, Default)]
struct Held {
    total: usize,
    /// Feeds per token hash; tokens with none are not kept.
    by_token: HashMap<String, usize>,
}

/// One live feed's place, given back when dropped.
#[derive(Debug)]
pub struct FeedSlot {
    slots: Arc<FeedSlots>,
    token: String,
}

impl FeedSlots {
    pub fn new(per_token: usize, per_host: usize) -> FeedSlots {
        FeedSlots { per_token, per_host, held: Mutex::default() }
    }

    /// A place for one more feed of the token with hash `token`: `429 too_many_feeds` when
    /// the token holds its share, `503 too_many_feeds` when the host is full.
    pub fn take(self: &Arc<Self>, token: &str) -> Result<FeedSlot, ApiError> {
        let mut held = self.held.lock().map_err(|_| ApiError::ShuttingDown)?;
        let of_token = held.by_token.get(token).copied().unwrap_or(0);
        if of_token >= self.per_token {
            return Err(ApiError::TokensFeedsFull(of_token));
        }
        if held.total >= self.per_host {
            return Err(ApiError::HostsFeedsFull(held.total));
        }
        held.total += 1;
        *held.by_token.entry(token.to_owned()).or_default() += 1;
        Ok(FeedSlot { slots: self.clone(), token: token.to_owned() })
    }
}

impl Drop for FeedSlot {
    fn drop(&mut self) {
        let Ok(mut held) = self.slots.held.lock() else { return };
        held.total = held.total.saturating_sub(1);
        if let Some(count) = held.by_token.get_mut(&self.token) {
            *count -= 1;
            if *count == 0 {
                held.by_token.remove(&self.token);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn per_token_and_per_host_and_given_back() {
        let slots = Arc::new(FeedSlots::new(2, 3));
        let a1 = slots.take("a").expect("a slot");
        let _a2 = slots.take("a").expect("a slot");
        assert_eq!(slots.take("a").expect_err("a is full").status(), StatusCode::TOO_MANY_REQUESTS);
        let _b1 = slots.take("b").expect("a slot");
        let refused = slots.take("c").expect_err("the host is full");
        assert_eq!((refused.status(), refused.code()), (StatusCode::SERVICE_UNAVAILABLE, "too_many_feeds"));
        drop(a1);
        let _c1 = slots.take("c").expect("a slot again");
        assert_eq!(slots.held.lock().expect("lock").by_token.len(), 3);
    }
}
