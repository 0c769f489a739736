//! The vector-store kind's registry table: each store comes with the history and the journal of
//! accepted writes kept beside it — in the same PostgreSQL database for `pgvector`, in SQLite files
//! next to the store file for `embedded`, in SQLite files in the data directory for the hosted
//! stores. No block means the embedded store in the data directory ([`default_storage`]).

use crate::adapters::history::postgres::PostgresHistoryStore;
use crate::adapters::history::sqlite::SqliteHistoryStore;
use crate::adapters::journal::postgres::PostgresJournal;
use crate::adapters::journal::sqlite::SqliteJournal;
use crate::adapters::registry::{self, BuildContext, Provider};
use crate::adapters::vector::embedded::{self, EmbeddedConfig, EmbeddedVectorStore};
use crate::adapters::vector::pgvector::{self, PgVectorStore};
use crate::adapters::vector::pinecone::{self, PineconeStore};
use crate::adapters::vector::qdrant::{self, QdrantStore};
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use crate::ports::history_store::HistoryStore;
use crate::ports::journal::WriteJournal;
use crate::ports::vector_store::VectorStore;
use std::path::Path;
use std::sync::Arc;

/// The vector store with the history and journal kept beside it.
pub struct Storage {
    /// The memories and their vectors.
    pub vector_store: Arc<dyn VectorStore>,
    /// The change history.
    pub history: Arc<dyn HistoryStore>,
    /// The journal of accepted writes.
    pub journal: Arc<dyn WriteJournal>,
}

/// The vector-store kind's registry table. What a store needs from the kinds built before it is
/// the embedder's vector size (the embedded store takes it unless its block sets
/// `embedding_model_dims`).
pub const PROVIDERS: &[Provider<Storage, usize>] = &[
    Provider { names: &["pgvector"], keys: |_| pgvector::ALLOWED_KEYS.to_vec(), build: |b, _, _| pgvector_storage(b) },
    Provider {
        names: &[embedded::PROVIDER],
        keys: |_| embedded::ALLOWED_KEYS.to_vec(),
        build: |b, ctx, embedder_dims| {
            let mut config = embedded::from_block(b, ctx)?;
            if !b.config.contains_key("embedding_model_dims") {
                config.embedding_model_dims = embedder_dims;
            }
            Ok(embedded_storage(config, ctx))
        },
    },
    Provider {
        names: pinecone::PROVIDERS,
        keys: |_| pinecone::ALLOWED_KEYS.to_vec(),
        build: |b, ctx, _| Ok(hosted_storage(Arc::new(PineconeStore::from_block(b, ctx)?), b, ctx)),
    },
    Provider {
        names: qdrant::PROVIDERS,
        keys: |_| qdrant::ALLOWED_KEYS.to_vec(),
        build: |b, ctx, _| Ok(hosted_storage(Arc::new(QdrantStore::from_block(b)?), b, ctx)),
    },
];

/// The storage a `local_vector_db_json` block describes, for an embedder of `embedder_dims`.
/// Nothing is contacted.
pub fn build_storage(
    block: &ProviderBlock,
    context: &BuildContext,
    embedder_dims: usize,
) -> Result<Storage, BuildError> {
    registry::build(PROVIDERS, block, context, embedder_dims)
}

/// Without a block: the embedded store in the data directory, with the embedder's vector size.
pub fn default_storage(context: &BuildContext, embedder_dims: usize) -> Storage {
    let config =
        EmbeddedConfig { embedding_model_dims: embedder_dims, ..EmbeddedConfig::in_data_dir(context.data_dir()) };
    embedded_storage(config, context)
}

/// pgvector; history and journal in the same database.
fn pgvector_storage(block: &ProviderBlock) -> Result<Storage, BuildError> {
    let store = PgVectorStore::connect(pgvector::from_block(block)?)
        .map_err(|e| BuildError::Config { field: block.field, message: e.to_string() })?;
    Ok(Storage {
        history: Arc::new(PostgresHistoryStore::beside(&store)),
        journal: Arc::new(PostgresJournal::beside(&store)),
        vector_store: Arc::new(store),
    })
}

/// A hosted store; history and journal in SQLite files in the data directory, the journal named
/// after the provider and the collection.
fn hosted_storage(store: Arc<dyn VectorStore>, block: &ProviderBlock, context: &BuildContext) -> Storage {
    let collection = block.config.get("collection_name").and_then(|v| v.as_str()).unwrap_or("mem0");
    let safe: String =
        collection.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    let data_dir = context.data_dir();
    Storage {
        history: Arc::new(SqliteHistoryStore::new(data_dir.join("history.db"))),
        journal: Arc::new(SqliteJournal::new(data_dir.join(format!("journal-{}-{safe}.db", block.provider)))),
        vector_store: store,
    }
}

/// The embedded store; history and journal in SQLite files beside its file.
fn embedded_storage(config: EmbeddedConfig, context: &BuildContext) -> Storage {
    let dir = config.path.parent().map_or_else(|| context.data_dir().to_path_buf(), Path::to_path_buf);
    let journal = dir.join(config.journal_file_name());
    Storage {
        history: Arc::new(SqliteHistoryStore::new(dir.join("history.db"))),
        journal: Arc::new(SqliteJournal::new(journal)),
        vector_store: Arc::new(EmbeddedVectorStore::new(config)),
    }
}
