//! The Cypher statements, kept to what Neo4j 5 and ArcadeDB's Bolt plugin both run (no GDS,
//! no vector indexes, no `CALL {}` subqueries).
//!
//! Only three things are ever written into the statement text: the plugin's node label
//! (validated at configuration time), relationship types (already in `[a-z0-9_]`, see
//! [`RelationType::cypher`]) and the names of scope properties (fixed strings from
//! [`Scope::pairs`]). Every value is a parameter.
//!
//! Nodes carry `name`, `scope_key` (= [`Scope::key`], the exact owner) and the scope's
//! `user_id` / `agent_id` / `run_id`. Writes address nodes by `(name, scope_key)`, so a node
//! belongs to exactly one scope; reads and deletes match the scope properties the way
//! [`Scope::contains`] does (every identifier the scope sets must be equal).

use super::config::DEFAULT_LABEL;
use crate::domain::graph::names::{is_safe_label, RelationType};
use crate::domain::scope::Scope;
use neo4rs::{query, BoltType, Query};

/// Statement that tells raw cosine (−1 for opposite vectors, ArcadeDB) from Neo4j's
/// normalized `(1 + cos) / 2` (0 for opposite vectors).
pub(super) const COSINE_PROBE: &str = "RETURN vector.similarity.cosine([1.0, 0.0], [-1.0, 0.0]) AS opposite";

/// Builds the statements for one node label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Statements {
    label: String,
}

impl Default for Statements {
    /// Statements for Mem0's label [`DEFAULT_LABEL`].
    fn default() -> Self {
        Self { label: DEFAULT_LABEL.to_owned() }
    }
}

impl Statements {
    /// Statements for nodes labelled `label`; `None` unless [`is_safe_label`] holds.
    pub(super) fn new(label: &str) -> Option<Self> {
        is_safe_label(label).then(|| Self { label: label.to_owned() })
    }

    /// `CREATE INDEX … IF NOT EXISTS` statements for the properties reads and writes filter on.
    pub(super) fn indexes(&self) -> Vec<String> {
        let prefix = format!("mem0_{}", self.label.to_ascii_lowercase());
        ["scope_key", "user_id"]
            .iter()
            .map(|property| {
                format!("CREATE INDEX {prefix}_{property} IF NOT EXISTS FOR (n:`{}`) ON (n.{property})", self.label)
            })
            .collect()
    }

    /// For each `$entities` row `{key, embedding}`, the nodes of exactly `$scope_key` whose
    /// embedding (of `$dims` floats) scores at least `$min_score`. Columns: key, name, score.
    pub(super) fn similar_nodes(&self) -> String {
        format!(
            "UNWIND $entities AS entity \
             MATCH (n:`{label}`) WHERE n.scope_key = $scope_key AND n.embedding IS NOT NULL \
             AND size(n.embedding) = $dims \
             WITH entity, n, vector.similarity.cosine(n.embedding, entity.embedding) AS score \
             WHERE score >= $min_score \
             RETURN entity.key AS key, n.name AS name, score",
            label = self.label
        )
    }

    /// Relations visible from `scope` that touch a node named in `$names`, at most `$limit`.
    /// Columns: source, source_scope, type, relationship, destination, destination_scope.
    pub(super) fn involved_relations(&self, scope: &Scope) -> String {
        format!(
            "MATCH (n:`{label}`)-[r]->(m:`{label}`) WHERE {n_scope} AND {m_scope} \
             AND (n.name IN $names OR m.name IN $names) \
             RETURN n.name AS source, n.scope_key AS source_scope, type(r) AS type, \
             coalesce(r.relationship, type(r)) AS relationship, m.name AS destination, \
             m.scope_key AS destination_scope \
             ORDER BY source, type, destination LIMIT $limit",
            label = self.label,
            n_scope = contains("n", scope),
            m_scope = contains("m", scope),
        )
    }

    /// Deletes the relation of type `$type` from `($source, $source_scope)` to
    /// `($destination, $destination_scope)`. Column: deleted.
    pub(super) fn delete_relation(&self) -> String {
        format!(
            "MATCH (n:`{label}` {{name: $source, scope_key: $source_scope}})-[r]->\
             (m:`{label}` {{name: $destination, scope_key: $destination_scope}}) \
             WHERE type(r) = $type DELETE r RETURN count(*) AS deleted",
            label = self.label
        )
    }

    /// Merges both nodes into exactly `scope` and the relation between them. Parameters:
    /// source, source_type, source_embedding, destination, destination_type,
    /// destination_embedding, relationship, scope_key, now, and the scope's identifiers.
    /// Columns: source, relationship, destination.
    pub(super) fn merge_relation(&self, scope: &Scope, relation: &RelationType) -> String {
        let on_create = |var: &str| {
            let mut sets = vec![
                format!("{var}.entity_type = ${var}_type"),
                format!("{var}.embedding = ${var}_embedding"),
                format!("{var}.created = $now"),
            ];
            sets.extend(scope.pairs().map(|(key, _)| format!("{var}.{key} = ${key}")));
            sets.join(", ")
        };
        format!(
            "MERGE (source:`{label}` {{name: $source, scope_key: $scope_key}}) \
             ON CREATE SET {source_create} \
             SET source.mentions = coalesce(source.mentions, 0) + 1 \
             MERGE (destination:`{label}` {{name: $destination, scope_key: $scope_key}}) \
             ON CREATE SET {destination_create} \
             SET destination.mentions = coalesce(destination.mentions, 0) + 1 \
             MERGE (source)-[r:`{rel}`]->(destination) \
             ON CREATE SET r.relationship = $relationship, r.created_at = $now, r.updated_at = $now, r.mentions = 1 \
             ON MATCH SET r.mentions = coalesce(r.mentions, 0) + 1, r.updated_at = $now \
             RETURN source.name AS source, coalesce(r.relationship, type(r)) AS relationship, \
             destination.name AS destination",
            label = self.label,
            source_create = on_create("source"),
            destination_create = on_create("destination"),
            rel = relation.cypher(),
        )
    }

    /// Relations visible from `scope` touching a node whose embedding scores at least
    /// `$min_score` against one of the `$queries` vectors (of `$dims` floats), best first, at
    /// most `$limit`. Columns: source, relationship, destination, score.
    pub(super) fn search_relations(&self, scope: &Scope) -> String {
        format!(
            "UNWIND $queries AS query \
             MATCH (n:`{label}`) WHERE {n_scope} AND n.embedding IS NOT NULL AND size(n.embedding) = $dims \
             WITH n, vector.similarity.cosine(n.embedding, query) AS score WHERE score >= $min_score \
             MATCH (n)-[r]-(m:`{label}`) WHERE {m_scope} \
             WITH startNode(r) AS s, r, endNode(r) AS d, max(score) AS score \
             RETURN s.name AS source, coalesce(r.relationship, type(r)) AS relationship, d.name AS destination, score \
             ORDER BY score DESC, source, relationship, destination LIMIT $limit",
            label = self.label,
            n_scope = contains("n", scope),
            m_scope = contains("m", scope),
        )
    }

    /// Relations visible from `scope`, newest first, at most `$limit`.
    /// Columns: source, relationship, destination.
    pub(super) fn list_relations(&self, scope: &Scope) -> String {
        format!(
            "MATCH (n:`{label}`)-[r]->(m:`{label}`) WHERE {n_scope} AND {m_scope} \
             RETURN n.name AS source, coalesce(r.relationship, type(r)) AS relationship, m.name AS destination, \
             coalesce(r.updated_at, r.created_at, 0) AS at \
             ORDER BY at DESC, source, relationship, destination LIMIT $limit",
            label = self.label,
            n_scope = contains("n", scope),
            m_scope = contains("m", scope),
        )
    }

    /// Detaches and deletes up to `$batch` nodes visible from `scope`. Column: deleted.
    pub(super) fn delete_scope_batch(&self, scope: &Scope) -> String {
        format!(
            "MATCH (n:`{label}`) WHERE {n_scope} WITH n LIMIT $batch DETACH DELETE n RETURN count(*) AS deleted",
            label = self.label,
            n_scope = contains("n", scope),
        )
    }
}

/// `var.user_id = $user_id AND …` for every identifier `scope` sets ([`Scope::contains`]).
fn contains(var: &str, scope: &Scope) -> String {
    scope.pairs().map(|(key, _)| format!("{var}.{key} = ${key}")).collect::<Vec<_>>().join(" AND ")
}

/// A query with the scope's identifiers (and its exact key) bound as parameters.
pub(super) fn scoped(text: &str, scope: &Scope) -> Query {
    scope
        .pairs()
        .fold(query(text), |q, (key, value)| q.param(key, value.as_str()))
        .param("scope_key", BoltType::from(scope.key()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statements() -> Statements {
        Statements::new("__Entity__").unwrap()
    }

    #[test]
    fn labels_must_be_safe() {
        assert_eq!(Statements::new(DEFAULT_LABEL), Some(Statements::default()));
        assert!(Statements::new("a`) DETACH DELETE n //").is_none());
        assert!(Statements::new("").is_none());
    }

    #[test]
    fn scope_predicates_follow_scope_contains() {
        let scope = Scope::parse(Some("alice"), None, Some("r1")).unwrap();
        assert_eq!(contains("n", &scope), "n.user_id = $user_id AND n.run_id = $run_id");
        let text = statements().list_relations(&scope);
        assert!(text.contains("n.user_id = $user_id AND n.run_id = $run_id AND m.user_id = $user_id"), "{text}");
        assert!(!text.contains("alice"), "values are parameters");
    }

    #[test]
    fn every_delete_is_confined_to_the_label() {
        let scope = Scope::parse(Some("alice"), None, None).unwrap();
        let s = statements();
        for text in [s.delete_scope_batch(&scope), s.delete_relation()] {
            assert!(text.contains("(n:`__Entity__`"), "{text}");
        }
        assert!(s.delete_scope_batch(&scope).contains("WHERE n.user_id = $user_id"));
    }

    #[test]
    fn merge_writes_only_normalized_types_and_scope_keys() {
        let scope = Scope::parse(Some("alice"), Some("bot"), None).unwrap();
        let relation = RelationType::parse("likes`}) DETACH DELETE n //").unwrap();
        let text = statements().merge_relation(&scope, &relation);
        assert!(text.contains("-[r:`likes_detach_delete_n`]->"), "{text}");
        assert!(text.contains("source.user_id = $user_id, source.agent_id = $agent_id"));
        assert!(!text.contains("run_id"));
        assert_eq!(text.matches('`').count() % 2, 0);
    }

    #[test]
    fn index_names_are_derived_from_the_label() {
        assert_eq!(
            statements().indexes()[0],
            "CREATE INDEX mem0___entity___scope_key IF NOT EXISTS FOR (n:`__Entity__`) ON (n.scope_key)"
        );
    }
}
