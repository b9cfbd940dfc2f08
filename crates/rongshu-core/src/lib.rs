//! Rongshu's domain model: identifiers, divisions, the catalog, grades and masking,
//! and the audit chain. Pure and synchronous: nothing here touches a file, a socket
//! or a database.

pub mod account;
pub mod audit;
pub mod catalog;
pub mod division;
pub mod ident;
pub mod kind;
pub mod linkage;
pub mod mask;
pub mod net;
pub mod opendata;
pub mod otp;
pub mod people;
pub mod quality;
pub mod rate;
pub mod registry;
pub mod sharing;
pub mod value;
