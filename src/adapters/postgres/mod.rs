//! PostgreSQL plumbing shared by the pgvector store, the PostgreSQL history store and the write
//! journal: connection settings (libpq's `sslmode` included), the pool, TLS, DDL and error mapping.

pub mod checkout;
pub mod connection;
pub mod ddl;
pub mod errors;
pub mod identifier;
pub mod params;
pub mod ssl_mode;
pub mod tls;

pub use connection::ConnectionSettings;
pub use ssl_mode::SslMode;
