//! What the integration tests share: fake services speaking real wire formats, the stand-in Dify
//! daemon, the PostgreSQL helpers, the contract suite every vector store runs, and the record of
//! tests that could not run.

pub mod adapter_config;
pub mod daemon;
pub mod dify_workspace;
pub mod fake_api;
pub mod fake_openai;
pub mod fake_pinecone;
pub mod fake_qdrant;
pub mod fake_rerank;
pub mod minilm;
pub mod model_world;
pub mod not_run;
pub mod pgstore;
pub mod recorder;
pub mod reliability;
pub mod scripted_server;
pub mod sigv4_check;
pub mod store_scenarios;
