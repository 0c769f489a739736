//! How to reach and authenticate with each vendor whose chat and embedding adapters share settings:
//! endpoints, credentials and their environment fallbacks, auth headers and request signing.

pub mod aws;
pub mod azure;
pub mod google;
pub mod ollama;
