//! Accounts and security building blocks: password hashing and policy, TOTP, access
//! tokens, and the OAuth 2.0 sign-in client for Google and GitHub. (The accounts
//! issue wires them into users, sessions and endpoints.)

pub mod jwt;
pub mod oauth;
pub mod password;
pub mod totp;
