//! Everything the Partnerships CRM functions share: configuration, table definitions, the pure
//! domain rules, DynamoDB access, the HTTP envelope and caller authorization.

pub mod access;
pub mod auth;
pub mod config;
pub mod context;
pub mod directory;
pub mod domain;
pub mod error;
pub mod http;
pub mod https;
pub mod record_routes;
pub mod retry;
pub mod store;
pub mod tables;

pub use context::AppContext;
pub use error::{ApiError, ApiResult};
