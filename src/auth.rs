//! Accounts and security building blocks: password hashing and policy, TOTP, and
//! access tokens. (The accounts issue wires them into users, sessions and endpoints.)

pub mod jwt;
pub mod password;
pub mod totp;
