//! Delivering one-time codes to phones. The platform hands a code to a
//! short-message gateway through `OtpSender`; the demo's sender keeps the
//! codes in an outbox instead, where the demo page and tests find them.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use rongshu_core::ident::Mobile;
use rongshu_core::otp::OneTimeCode;

/// What a send returns: done, or why not.
pub type SendResult<'a> = Pin<Box<dyn Future<Output = Result<(), OtpSendError>> + Send + 'a>>;

/// Sends a code to a phone.
pub trait OtpSender: fmt::Debug + Send + Sync + 'static {
    fn send<'a>(&'a self, phone: &'a Mobile, code: &'a OneTimeCode) -> SendResult<'a>;
}

/// Why a code did not go out (the gateway's words, for the log).
#[derive(Debug, thiserror::Error)]
#[error("the short message could not be sent: {0}")]
pub struct OtpSendError(pub String);

/// Codes the demo sender keeps at most; the oldest go first.
const OUTBOX: usize = 1_000;

/// The demo's phone: codes are kept in memory, by number, and nothing is sent.
#[derive(Default)]
pub struct DemoOtpSender {
    outbox: Mutex<Vec<(String, String)>>,
}

impl fmt::Debug for DemoOtpSender {
    // The outbox holds phone numbers and live codes: never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DemoOtpSender")
    }
}

impl DemoOtpSender {
    /// The last code sent to `phone` (11 digits), if any.
    pub fn latest_to(&self, phone: &str) -> Option<String> {
        let outbox = self.outbox.lock().unwrap_or_else(|e| e.into_inner());
        outbox
            .iter()
            .rev()
            .find(|(to, _)| to == phone)
            .map(|(_, code)| code.clone())
    }

    /// How many codes were sent, to anyone.
    pub fn sent(&self) -> usize {
        self.outbox.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl OtpSender for DemoOtpSender {
    fn send<'a>(&'a self, phone: &'a Mobile, code: &'a OneTimeCode) -> SendResult<'a> {
        Box::pin(async move {
            let mut outbox = self.outbox.lock().unwrap_or_else(|e| e.into_inner());
            if outbox.len() >= OUTBOX {
                outbox.remove(0);
            }
            outbox.push((phone.as_str().to_owned(), code.as_str().to_owned()));
            // The phone masked (its Debug), the code not at all.
            tracing::info!(phone = ?phone, "demo: a sign-in code was put in the demo outbox");
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_demo_phone_keeps_the_latest_code_per_number() {
        let sender = DemoOtpSender::default();
        let a = Mobile::parse("13800000001").unwrap();
        let b = Mobile::parse("13800000002").unwrap();
        sender.send(&a, &OneTimeCode::from_random(1)).await.unwrap();
        sender.send(&b, &OneTimeCode::from_random(2)).await.unwrap();
        sender.send(&a, &OneTimeCode::from_random(3)).await.unwrap();
        assert_eq!(sender.latest_to("13800000001").as_deref(), Some("000003"));
        assert_eq!(sender.latest_to("13800000002").as_deref(), Some("000002"));
        assert_eq!(sender.latest_to("13800000003"), None);
        assert_eq!(sender.sent(), 3);
        assert_eq!(format!("{sender:?}"), "DemoOtpSender");
    }
}
