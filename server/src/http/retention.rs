//! Retention on a running server: every tenant's events older than the configured time are
//! pruned at start and then periodically, one bounded step at a time on the writer thread
//! (commands queued meanwhile go between the steps), and history and reports say where
//! the kept log begins.

use axum::http::{HeaderName, HeaderValue};
use tokio::sync::watch;

use crate::clock::now_ms;
use crate::service::writer::{Asked, Writer};
use crate::service::{LogBegins, Retention};

/// The response header of history and reports once a tenant's log was pruned:
/// `Log-Begins: seq=<first kept sequence number>, at=<ms>` (every event at or after `at`
/// is kept, none before it).
pub const LOG_BEGINS: HeaderName = HeaderName::from_static("log-begins");

/// The `Log-Begins` header for where a tenant's kept log begins
/// ([`crate::service::TenantService::log_begins`]); none while nothing was pruned.
pub fn log_begins_header(begins: Option<LogBegins>) -> Option<(HeaderName, HeaderValue)> {
    let begins = begins?;
    let value = HeaderValue::from_str(&format!("seq={}, at={}", begins.seq, begins.at)).ok()?;
    Some((LOG_BEGINS, value))
}

/// Prunes every tenant now and then every `retention.every`, until `shutdown` turns true.
pub async fn prune_periodically(writer: Writer, retention: Retention, mut shutdown: watch::Receiver<bool>) {
    loop {
        prune_once(&writer, retention).await;
        tokio::select! {
            () = tokio::time::sleep(retention.every) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}

/// One pass over every tenant, one step (one transaction) per writer job.
async fn prune_once(writer: &Writer, retention: Retention) {
    let cutoff = retention.cutoff(now_ms());
    let tenants = match writer.tenant_ids().await {
        Ok(tenants) => tenants,
        Err(Asked::Refused(e)) => {
            tracing::warn!(error = %e, "retention: cannot list the tenants; trying again later");
            return;
        }
        Err(Asked::Gone(_)) => return,
    };
    for tenant in tenants {
        let mut events = 0;
        loop {
            match writer.prune_step(tenant.clone(), cutoff).await {
                Ok(step) => {
                    events += step.pruned.events;
                    if !step.more {
                        break;
                    }
                }
                Err(Asked::Refused(e)) => {
                    tracing::warn!(tenant, error = %e, "retention: pruning failed; trying again later");
                    break;
                }
                Err(Asked::Gone(_)) => return,
            }
        }
        if events > 0 {
            tracing::info!(tenant, events, cutoff, "retention: pruned events older than the cutoff");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_says_where_the_kept_log_begins_and_is_absent_before_any_prune() {
        assert_eq!(log_begins_header(None), None);
        let (name, value) = log_begins_header(Some(LogBegins { seq: 42, at: 1_700_000_000_000 })).expect("a header");
        assert_eq!(name.as_str(), "log-begins");
        assert_eq!(value.to_str().ok(), Some("seq=42, at=1700000000000"));
    }
}
