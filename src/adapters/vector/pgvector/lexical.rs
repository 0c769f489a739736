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
//! Tables created before the lexical index (or rows written by Mem0 itself) get the column and its
//! index when the store is first opened ([`prepare`], in the preparing transaction: no row is
//! touched), and their rows' terms afterwards, chunk by chunk in the background
//! ([`super::lexical_fill`], one [`fill_chunk`] per transaction).

use crate::domain::lexical;
use deadpool_postgres::{GenericClient, Transaction};
use std::collections::BTreeMap;
use uuid::Uuid;

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

/// Adds the column and its GIN index when missing. Fast whatever the table's size: the column is
/// added without a default (no row is rewritten), and the index of a column of NULLs holds no
/// terms. The rows get their terms later ([`fill_chunk`]).
pub(super) async fn prepare(tx: &Transaction<'_>, table: &str, index_name: &str) -> Result<(), tokio_postgres::Error> {
    // Skipped when both exist: `ALTER TABLE` would take the table's exclusive lock even then,
    // queueing every reader behind a running fill's chunk.
    let present = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'lexical' \
             AND NOT attisdropped) AND to_regclass($2) IS NOT NULL",
            &[&table, &index_name],
        )
        .await?
        .try_get::<_, bool>(0)?;
    if present {
        return Ok(());
    }
    tx.batch_execute(&format!(
        "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS lexical tsvector; \
         CREATE INDEX IF NOT EXISTS {index_name} ON {table} USING gin (lexical)"
    ))
    .await
}

/// True when some row of the table has no terms yet (stops at the first one found).
pub(super) async fn has_rows_without_terms(
    client: &impl GenericClient,
    table: &str,
) -> Result<bool, tokio_postgres::Error> {
    let sql = format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE lexical IS NULL)");
    client.query_one(&sql, &[]).await?.try_get(0)
}

/// Gives terms to at most `limit` rows without them, skipping rows another transaction holds (a
/// writer, or the fill of another process); returns how many rows it indexed (0: none free).
pub(super) async fn fill_chunk(tx: &Transaction<'_>, table: &str, limit: i64) -> Result<u64, tokio_postgres::Error> {
    let select =
        format!("SELECT id, payload->>'data' FROM {table} WHERE lexical IS NULL LIMIT $1 FOR UPDATE SKIP LOCKED");
    let rows = tx.query(&select, &[&limit]).await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut ids = Vec::with_capacity(rows.len());
    let mut vectors = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: Uuid = row.try_get(0)?;
        let text: Option<String> = row.try_get(1)?;
        ids.push(id);
        vectors.push(tsvector_literal(text.as_deref().unwrap_or("")));
    }
    let update = format!(
        "UPDATE {table} AS t SET lexical = u.lexical::tsvector FROM unnest($1::uuid[], $2::text[]) AS u(id, lexical) \
         WHERE t.id = u.id"
    );
    tx.execute(&update, &[&ids, &vectors]).await
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
