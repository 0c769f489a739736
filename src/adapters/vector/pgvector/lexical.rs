//! The pgvector store's lexical index: a `lexical tsvector` column beside the vector, written in the
//! same statement (so the same transaction), with a GIN index.
//!
//! The column holds the memory's search terms ([`crate::domain::lexical::terms`]: stemmed English
//! words, CJK character pairs) as a tsvector literal, not PostgreSQL's own parsing, so CJK text is
//! searchable whatever the database's locale and the terms are those of every other store. A search
//! matches any query term inside the caller's scope and filter (GIN), then ranks the matches with
//! BM25 in the plugin: document frequencies among the scope's matching rows, the scope's size
//! counted, so rarer words weigh more (PostgreSQL's `ts_rank` has no IDF).
//!
//! Tables created before the lexical index (or rows written by Mem0 itself) get the column and their
//! terms when the store is first opened (`index_missing`, in the preparing transaction).

use crate::domain::lexical;
use deadpool_postgres::Transaction;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Rows indexed per statement when filling the column of existing rows.
const MIGRATE_CHUNK: i64 = 1000;
/// PostgreSQL's largest tsvector position.
const MAX_POSITION: usize = 16_383;

/// The tsvector literal of a text: `'term':1,4 'other':2` (terms are letters and digits only).
pub(super) fn tsvector_literal(text: &str) -> String {
    let mut positions: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, term) in lexical::terms(text).into_iter().enumerate() {
        positions.entry(term).or_default().push((i + 1).min(MAX_POSITION));
    }
    positions
        .into_iter()
        .map(|(term, at)| {
            let at: Vec<String> = at.iter().take(256).map(usize::to_string).collect();
            format!("'{}':{}", escape(&term), at.join(","))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The tsquery literal matching any of the terms: `'a' | 'b'`.
pub(super) fn tsquery_literal(terms: &[String]) -> String {
    terms.iter().map(|t| format!("'{}'", escape(t))).collect::<Vec<_>>().join(" | ")
}

fn escape(term: &str) -> String {
    term.replace('\\', "\\\\").replace('\'', "''")
}

/// Adds the column and its GIN index when missing, then fills it for rows without it.
pub(super) async fn prepare(tx: &Transaction<'_>, table: &str, index_name: &str) -> Result<u64, tokio_postgres::Error> {
    tx.batch_execute(&format!(
        "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS lexical tsvector; \
         CREATE INDEX IF NOT EXISTS {index_name} ON {table} USING gin (lexical)"
    ))
    .await?;
    index_missing(tx, table).await
}

/// Fills the lexical column of every row that has none; returns how many rows were indexed.
async fn index_missing(tx: &Transaction<'_>, table: &str) -> Result<u64, tokio_postgres::Error> {
    let select = format!("SELECT id, payload->>'data' FROM {table} WHERE lexical IS NULL LIMIT {MIGRATE_CHUNK}");
    let update = format!(
        "UPDATE {table} AS t SET lexical = u.lexical::tsvector FROM unnest($1::uuid[], $2::text[]) AS u(id, lexical) \
         WHERE t.id = u.id"
    );
    let mut indexed = 0u64;
    loop {
        let rows = tx.query(&select, &[]).await?;
        if rows.is_empty() {
            break;
        }
        let mut ids = Vec::with_capacity(rows.len());
        let mut vectors = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: Uuid = row.try_get(0)?;
            let text: Option<String> = row.try_get(1)?;
            ids.push(id);
            vectors.push(tsvector_literal(text.as_deref().unwrap_or("")));
        }
        indexed += tx.execute(&update, &[&ids, &vectors]).await?;
    }
    if indexed > 0 {
        tracing::info!(table, indexed, "pgvector store: lexical index filled for rows written before it existed");
    }
    Ok(indexed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_list_terms_with_positions() {
        assert_eq!(tsvector_literal("Hiking and hikes in 東京"), "'hike':1,2 '東京':3");
        assert_eq!(tsvector_literal("the"), "");
        assert_eq!(tsquery_literal(&["hike".into(), "東京".into()]), "'hike' | '東京'");
    }
}
