//! Entity resolution: which node each extracted entity is written to.
//!
//! An entity goes to the existing node of its scope with the same name, else to the most
//! similar existing node at or above the threshold, else to an entity extracted earlier in the
//! same add that is similar enough, else to a new node of its own name.

use super::extraction::{ExtractedEntity, Triple};

/// An existing node the store found similar to entity number `key`.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityMatch {
    /// Index of the extracted entity.
    pub key: usize,
    /// The node's name.
    pub name: String,
    /// Raw cosine similarity (−1…1).
    pub score: f64,
}

/// The node name each entity resolves to, in entity order.
pub fn canonical_names(
    entities: &[ExtractedEntity],
    vectors: &[Vec<f32>],
    found: &[EntityMatch],
    threshold: f64,
) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(entities.len());
    let mut fresh: Vec<usize> = Vec::new();
    for (i, entity) in entities.iter().enumerate() {
        let mine = found.iter().filter(|c| c.key == i);
        let existing = mine
            .clone()
            .find(|c| c.name == entity.name)
            .or_else(|| mine.filter(|c| c.score >= threshold).max_by(|a, b| a.score.total_cmp(&b.score)));
        let name = match existing {
            Some(candidate) => candidate.name.clone(),
            None => {
                let earlier = fresh
                    .iter()
                    .map(|&j| (j, cosine(&vectors[i], &vectors[j])))
                    .filter(|(_, score)| *score >= threshold)
                    .max_by(|a, b| a.1.total_cmp(&b.1));
                match earlier {
                    Some((j, _)) => names[j].clone(),
                    None => {
                        fresh.push(i);
                        entity.name.clone()
                    }
                }
            }
        };
        names.push(name);
    }
    names
}

/// Rewrites the relations onto the resolved names, dropping self-loops and duplicates.
pub fn rewrite(relations: &[Triple], entities: &[ExtractedEntity], names: &[String]) -> Vec<Triple> {
    let resolve =
        |name: &str| entities.iter().position(|e| e.name == name).map_or_else(|| name.to_owned(), |i| names[i].clone());
    let mut out: Vec<Triple> = Vec::new();
    for triple in relations {
        let rewritten = Triple {
            source: resolve(&triple.source),
            relation: triple.relation.clone(),
            destination: resolve(&triple.destination),
        };
        if rewritten.source != rewritten.destination && !out.contains(&rewritten) {
            out.push(rewritten);
        }
    }
    out
}

/// Cosine similarity of two vectors (0 when either is zero or their sizes differ).
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::graph::names::RelationType;

    fn entity(name: &str) -> ExtractedEntity {
        ExtractedEntity { name: name.into(), entity_type: "person".into() }
    }

    #[test]
    fn exact_names_then_best_similar_then_earlier_entities() {
        let entities = vec![entity("alice"), entity("alice_smith"), entity("bob"), entity("bobby"), entity("carol")];
        let vectors = vec![vec![1.0, 0.0], vec![0.9, 0.1], vec![0.0, 1.0], vec![0.05, 1.0], vec![-1.0, 0.0]];
        let found = vec![
            EntityMatch { key: 0, name: "alicia".into(), score: 0.99 },
            EntityMatch { key: 0, name: "alice".into(), score: 0.98 },
            EntityMatch { key: 1, name: "alice".into(), score: 0.8 },
            EntityMatch { key: 1, name: "al".into(), score: 0.9 },
            EntityMatch { key: 4, name: "dave".into(), score: 0.5 },
        ];
        let names = canonical_names(&entities, &vectors, &found, 0.7);
        assert_eq!(names, vec!["alice", "al", "bob", "bob", "carol"]);
    }

    #[test]
    fn rewriting_drops_self_loops_and_duplicates() {
        let entities = vec![entity("alice"), entity("alice_smith"), entity("paris")];
        let names = vec!["alice".to_owned(), "alice".to_owned(), "paris".to_owned()];
        let t = |s: &str, r: &str, d: &str| Triple {
            source: s.into(),
            relation: RelationType::parse(r).unwrap(),
            destination: d.into(),
        };
        let out = rewrite(
            &[t("alice_smith", "lives_in", "paris"), t("alice", "lives_in", "paris"), t("alice", "is", "alice_smith")],
            &entities,
            &names,
        );
        assert_eq!(out, vec![t("alice", "lives_in", "paris")]);
    }

    #[test]
    fn cosine_values() {
        assert!((cosine(&[1.0, 0.0], &[1.0, 0.0]) - 1.0).abs() < 1e-12);
        assert!((cosine(&[1.0, 0.0], &[-1.0, 0.0]) + 1.0).abs() < 1e-12);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
        assert_eq!(cosine(&[1.0], &[1.0, 0.0]), 0.0);
    }
}
