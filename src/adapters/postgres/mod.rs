//! PostgreSQL plumbing shared by the pgvector store and the PostgreSQL history store:
//! connection settings (libpq's `sslmode` included), the pool, TLS and error mapping.

pub mod connection;
pub mod errors;
pub mod identifier;
pub mod params;
pub mod tls;

pub use connection::{ConnectionSettings, SslMode};
