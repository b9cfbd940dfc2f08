//! Citizen transparency: a citizen signs in with an ID number and a one-time
//! code sent to the registered phone, and sees every read of his or her
//! data that the audit log links to them.

pub mod access_log;
pub mod phone;
pub mod sender;
pub mod sign_in;

pub use sender::{DemoOtpSender, OtpSendError, OtpSender, SendResult};
