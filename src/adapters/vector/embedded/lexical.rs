//! The embedded store's lexical index: an SQLite FTS5 table written in the same transaction as
//! the memories, ranked with FTS5's `bm25()`.
//!
//! - `lexical (owner, terms)`: `terms` holds the memory's search terms
//!   ([`crate::domain::lexical::terms`], stemmed words and CJK character pairs, space separated),
//!   `owner` one token per collection / user / agent / run (a hash, so ids of any shape are safe
//!   tokens); a search matches the owner tokens of the caller's scope AND any query term, so keyword
//!   matches never leave the scope. `bm25()` weighs `owner` 0.
//! - `lexical_rows (row, collection, id)`: the FTS row of each memory (an `INTEGER PRIMARY KEY`, so
//!   it survives `VACUUM`).
//! - Files written before the lexical index (schema 1) are indexed in full when first opened, in the
//!   transaction that upgrades the schema.
//!
//! BM25's document frequencies are those of the whole file (every collection and scope).

use super::payload;
use crate::domain::lexical;
use crate::domain::memory::{MemoryId, MemoryRecord};
use crate::domain::scope::Scope;
use md5::{Digest, Md5};
use rusqlite::{params, Connection, OptionalExtension};
use tracing::{info, warn};
use uuid::Uuid;

/// The owner token of one identifier: a kind letter and 16 hex digits of its hash.
fn owner_token(kind: char, value: &str) -> String {
    let digest = Md5::digest(format!("{kind}\u{1f}{value}").as_bytes());
    format!("{kind}{}", &hex::encode(digest)[..16])
}

fn owner_of(collection: &str, scope: &Scope) -> Vec<String> {
    let mut tokens = vec![owner_token('c', collection)];
    for (key, id) in scope.pairs() {
        let kind = match key {
            "user_id" => 'u',
            "agent_id" => 'a',
            _ => 'r',
        };
        tokens.push(owner_token(kind, id.as_str()));
    }
    tokens
}

/// Writes (or rewrites) the lexical row of a memory.
pub(super) fn index(conn: &Connection, collection: &str, record: &MemoryRecord) -> Result<(), rusqlite::Error> {
    let row: i64 = conn
        .prepare_cached(
            "INSERT INTO lexical_rows (collection, id) VALUES (?1, ?2)
             ON CONFLICT (collection, id) DO UPDATE SET id = excluded.id RETURNING row",
        )?
        .query_row(params![collection, record.id.to_string()], |r| r.get(0))?;
    conn.prepare_cached("DELETE FROM lexical WHERE rowid = ?1")?.execute([row])?;
    conn.prepare_cached("INSERT INTO lexical (rowid, owner, terms) VALUES (?1, ?2, ?3)")?.execute(params![
        row,
        owner_of(collection, &record.scope).join(" "),
        lexical::terms(record.text.as_str()).join(" ")
    ])?;
    Ok(())
}

/// Removes the lexical row of a memory (nothing when it has none).
pub(super) fn remove(conn: &Connection, collection: &str, id: MemoryId) -> Result<(), rusqlite::Error> {
    let row: Option<i64> = conn
        .prepare_cached("DELETE FROM lexical_rows WHERE collection = ?1 AND id = ?2 RETURNING row")?
        .query_row(params![collection, id.to_string()], |r| r.get(0))
        .optional()?;
    if let Some(row) = row {
        conn.prepare_cached("DELETE FROM lexical WHERE rowid = ?1")?.execute([row])?;
    }
    Ok(())
}

/// Indexes every memory of the file (the upgrade of a file written before the lexical index).
pub(super) fn index_all(conn: &Connection) -> Result<(), rusqlite::Error> {
    let mut stmt = conn.prepare("SELECT collection, id, payload FROM memories")?;
    let mut rows = stmt.query([])?;
    let mut indexed = 0u64;
    while let Some(row) = rows.next()? {
        let (collection, raw_id, body): (String, String, String) = (row.get(0)?, row.get(1)?, row.get(2)?);
        let Ok(uuid) = Uuid::parse_str(&raw_id) else { continue };
        match payload::decode(MemoryId::from_uuid(uuid), &body) {
            Ok(record) => {
                index(conn, &collection, &record)?;
                indexed += 1;
            }
            Err(cause) => warn!(id = raw_id, cause, "a memory that cannot be read was left out of the lexical index"),
        }
    }
    info!(indexed, "embedded store: lexical index built for the memories written before it existed");
    Ok(())
}

/// The ids of the scope's memories sharing a term with the query, best first, with their BM25
/// (higher is better). At most `limit`.
pub(super) fn search(
    conn: &Connection,
    collection: &str,
    scope: &Scope,
    terms: &[String],
    limit: usize,
) -> Result<Vec<(MemoryId, f32)>, rusqlite::Error> {
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    let owner = owner_of(collection, scope).iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(" AND ");
    let any_term = terms.iter().map(|t| format!("\"{}\"", t.replace('"', "\"\""))).collect::<Vec<_>>().join(" OR ");
    let expression = format!("owner : ({owner}) AND terms : ({any_term})");
    let mut stmt = conn.prepare_cached(
        "SELECT r.id, bm25(lexical, 0.0, 1.0) AS rank FROM lexical JOIN lexical_rows r ON r.row = lexical.rowid
         WHERE lexical MATCH ?1 ORDER BY rank LIMIT ?2",
    )?;
    let rows =
        stmt.query_map(params![expression, limit as i64], |r| Ok((r.get::<_, String>(0)?, r.get::<_, f64>(1)?)))?;
    let mut found = Vec::new();
    for row in rows {
        let (raw_id, rank) = row?;
        if let Ok(uuid) = Uuid::parse_str(&raw_id) {
            // FTS5's bm25() is negated so that smaller is better; turned back here.
            found.push((MemoryId::from_uuid(uuid), (-rank).max(0.0) as f32));
        }
    }
    Ok(found)
}
