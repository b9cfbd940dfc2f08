//! Who is calling: passwords, opaque tokens, web sessions, and the `Actor`
//! every handler receives once its credentials were checked.

mod actor;
pub mod app_guard;
pub mod citizen;
mod client_ip;
pub mod key_use;
pub mod password;
pub mod token;

pub use actor::{Actor, ActorKind, MaybeActor, SESSION_COOKIE};
