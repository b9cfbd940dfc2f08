//! The webhook worker: pushes each active subscription's changes, in order and
//! a batch at a time, to its URL, signed. The position in the log moves only
//! when the receiver answers 2xx, and is committed with the attempt's log
//! entry, so after a restart delivery resumes where it was acknowledged; a
//! failure is retried with exponential back-off. Across processes one lease
//! per subscription (a conditional UPDATE in the store) keeps a subscription
//! to one delivery at a time, so a receiver sees its batches in order.
//!
//! The worker is woken by a `Notify` when this process loads a batch or a
//! subscription changes, and otherwise looks for due work every
//! `poll_every`: batches loaded by another process or the command line, and
//! retries falling due, have nobody here to wake it.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rongshu_core::audit::{AuditEntry, AuditRecord};
use rongshu_store::{AttemptOutcome, ClaimedSubscription, StoreError};
use serde_json::{Value, json};

use crate::access::{self, ReadAccess};
use crate::config::WebhookConfig;
use crate::exchange::feed::{KEY_REF_SECRET, KeyRefs, present_change};
use crate::exchange::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};
use crate::exchange::{Reader, reader, shown_items};
use crate::people::{self, person_key};
use crate::state::AppState;

/// Start the worker on the current runtime.
pub(crate) fn start(state: AppState) {
    tokio::spawn(async move {
        let client = match reqwest::Client::builder()
            .timeout(state.config.webhooks.timeout)
            // A receiver is the URL it was registered as; a redirect is a failure.
            .redirect(reqwest::redirect::Policy::none())
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "webhook delivery cannot start: no HTTP client");
                return;
            }
        };
        loop {
            loop {
                match deliver_one(&state, &client).await {
                    Ok(true) => continue,
                    Ok(false) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "webhook delivery could not reach the database");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = state.deliveries.notified() => {}
                _ = tokio::time::sleep(state.config.webhooks.poll_every) => {}
            }
        }
    });
}

/// The wait before the next try after `failures` failures in a row (counting
/// this one): base, 2×base, 4×base, … up to the cap.
pub(crate) fn backoff(config: &WebhookConfig, failures: i64) -> Duration {
    let exponent = u32::try_from(failures.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    config
        .retry_base
        .saturating_mul(2u32.saturating_pow(exponent))
        .min(config.retry_cap)
}

/// Deliver one batch of one due subscription. False when nothing was due.
async fn deliver_one(state: &AppState, client: &reqwest::Client) -> Result<bool, StoreError> {
    let now = state.clock.now();
    let lease = chrono::Duration::from_std(state.config.webhooks.timeout * 3)
        .unwrap_or_else(|_| chrono::Duration::minutes(1))
        .max(chrono::Duration::minutes(1));
    let Some(claimed) = state.store.claim_due_subscription(now, now + lease).await? else {
        return Ok(false);
    };
    let outcome = attempt(state, client, &claimed, now).await;
    let Some(outcome) = outcome else {
        // Nothing after its position after all: let it go without a log entry.
        state.store.release_subscription(&claimed).await?;
        return Ok(false);
    };
    if !state.store.finish_delivery(&claimed, &outcome).await? {
        tracing::warn!(
            subscription = claimed.subscription.id,
            "a delivery finished after its lease had lapsed"
        );
    }
    Ok(true)
}

/// What went wrong before or while sending.
struct Failure {
    status: Option<i64>,
    error: String,
}

/// Send the next batch; `None` when there was nothing to send.
async fn attempt(
    state: &AppState,
    client: &reqwest::Client,
    claimed: &ClaimedSubscription,
    now: DateTime<Utc>,
) -> Option<AttemptOutcome> {
    let sub = &claimed.subscription;
    let started = Instant::now();
    let mut from_seq = sub.delivered_seq + 1;
    let mut to_seq = from_seq;
    let result: Result<i64, Failure> = async {
        let fail = |error: String| Failure {
            status: None,
            error,
        };
        let resource = state
            .store
            .resource(&sub.resource)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let access = reader(state, Reader::Subscriber(&sub.department), &resource)
            .await
            .map_err(|e| fail(format!("the department may no longer read: {e}")))?;
        let changes = state
            .store
            .changes(
                &resource,
                sub.delivered_seq,
                state.config.webhooks.batch_size,
            )
            .await
            .map_err(|e| fail(e.to_string()))?;
        let (Some(first), Some(last)) = (changes.first(), changes.last()) else {
            return Ok(0);
        };
        from_seq = first.seq;
        to_seq = last.seq;
        let secret = state
            .store
            .platform_secret(KEY_REF_SECRET, now)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let refs = KeyRefs::new(secret, &resource.code, &sub.department);
        let count = changes.len() as i64;
        let key = person_key(state).await.map_err(|e| fail(e.to_string()))?;
        let people = people::of_changes(key, &resource, &changes);
        let (items, masked_items) = shown_items(&resource, &access);
        let presented: Vec<Value> = changes
            .into_iter()
            .map(|c| present_change(&resource, c, &access, &refs))
            .collect();
        let body = json!({
            "subscription": sub.id,
            "resource": resource.code,
            "changes": presented,
            "next_after": to_seq,
        })
        .to_string();
        // The data is on record as read, with the people it is about, before it leaves.
        let pushed = Pushed {
            from_seq,
            to_seq,
            count,
            items,
            masked_items,
        };
        state
            .audit
            .record(AuditEntry::new(
                push_event(claimed, now, &pushed, &access),
                people,
            ))
            .await
            .map_err(|e| fail(e.to_string()))?;
        let timestamp = now.timestamp();
        let response = client
            .post(&sub.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, sign(&claimed.secret, timestamp, &body))
            .body(body)
            .send()
            .await
            .map_err(|e| fail(describe(e)))?;
        let status = i64::from(response.status().as_u16());
        if response.status().is_success() {
            Ok(status)
        } else {
            Err(Failure {
                status: Some(status),
                error: format!("the receiver answered {}", response.status()),
            })
        }
    }
    .await;
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    match result {
        Ok(0) => None,
        Ok(status) => Some(AttemptOutcome {
            at: now,
            from_seq,
            to_seq,
            status: Some(status),
            error: None,
            duration_ms,
            retry_at: None,
        }),
        Err(f) => {
            let wait = backoff(&state.config.webhooks, sub.failures + 1);
            let wait = chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::minutes(10));
            tracing::info!(subscription = sub.id, error = %f.error, "webhook delivery failed; will retry");
            Some(AttemptOutcome {
                at: now,
                from_seq,
                to_seq,
                status: f.status,
                error: Some(f.error),
                duration_ms,
                retry_at: Some(now + wait),
            })
        }
    }
}

/// A transport error in words for the delivery log, without the URL's query.
fn describe(e: reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "the receiver did not answer in time"
    } else if e.is_connect() {
        "could not connect to the receiver"
    } else if e.is_request() {
        "the request could not be sent"
    } else {
        "the delivery failed"
    };
    let e = e.without_url();
    format!("{what}: {e}")
}

/// What one push carried, for its audit event.
struct Pushed {
    from_seq: i64,
    to_seq: i64,
    count: i64,
    items: Vec<String>,
    masked_items: Vec<String>,
}

fn push_event(
    claimed: &ClaimedSubscription,
    now: DateTime<Utc>,
    pushed: &Pushed,
    access: &ReadAccess,
) -> AuditRecord {
    let sub = &claimed.subscription;
    AuditRecord {
        at: now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        actor: format!("subscription:{}", sub.id),
        department: Some(sub.department.clone()),
        action: "data.read".into(),
        target: Some(sub.resource.clone()),
        resource: Some(sub.resource.clone()),
        rows: Some(pushed.count),
        detail: json!({
            "via": "webhook",
            "operation": "webhook",
            "subscription": sub.id,
            "from_seq": pushed.from_seq,
            "to_seq": pushed.to_seq,
            "masked": access.reader == access::Reader::Consumer,
            "reader": access.reader,
            "items": pushed.items,
            "masked_items": pushed.masked_items,
            "grant": access.grant.as_ref().map(|g| g.id),
            "purpose": access.grant.as_ref().map(|g| g.purpose),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let config = WebhookConfig {
            retry_base: Duration::from_secs(1),
            retry_cap: Duration::from_secs(10),
            ..WebhookConfig::default()
        };
        let waits: Vec<u64> = (1..=6).map(|n| backoff(&config, n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 10, 10]);
        assert_eq!(backoff(&config, 1_000).as_secs(), 10);
    }
}
