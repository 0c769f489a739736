//! Who a memory belongs to: the user / agent / run identifiers that confine every read and write.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest identifier accepted for `user_id`, `agent_id`, `run_id` or `actor_id`.
pub const MAX_ENTITY_ID_LEN: usize = 256;

/// Why an identifier or a scope was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// The identifier was empty after trimming.
    #[error("{field} must not be empty")]
    Empty {
        /// The field that was empty.
        field: &'static str,
    },
    /// The identifier was longer than [`MAX_ENTITY_ID_LEN`].
    #[error("{field} is {len} characters long; at most {MAX_ENTITY_ID_LEN} are allowed")]
    TooLong {
        /// The field that was too long.
        field: &'static str,
        /// Its length in characters.
        len: usize,
    },
    /// The identifier contained a control character.
    #[error("{field} must not contain control characters")]
    ControlCharacter {
        /// The offending field.
        field: &'static str,
    },
    /// None of `user_id`, `agent_id`, `run_id` was given.
    #[error("at least one of user_id, agent_id or run_id is required")]
    NoIdentifier,
}

/// A validated identifier of a user, agent, run or actor: trimmed, non-empty, bounded, printable.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EntityId(String);

impl EntityId {
    /// Validates `raw` as the value of `field`.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, ScopeError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(ScopeError::Empty { field });
        }
        let len = trimmed.chars().count();
        if len > MAX_ENTITY_ID_LEN {
            return Err(ScopeError::TooLong { field, len });
        }
        if trimmed.chars().any(char::is_control) {
            return Err(ScopeError::ControlCharacter { field });
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// Validates an optional value: `None` and blank strings mean "not given".
    pub fn parse_optional(field: &'static str, raw: Option<&str>) -> Result<Option<Self>, ScopeError> {
        match raw {
            Some(value) if !value.trim().is_empty() => Self::parse(field, value).map(Some),
            _ => Ok(None),
        }
    }

    /// The identifier as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EntityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The partition a memory lives in. At least one identifier is always set.
///
/// A memory matches a scope when every identifier the scope sets equals the memory's own;
/// identifiers the scope leaves unset match anything.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Scope {
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<EntityId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent_id: Option<EntityId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    run_id: Option<EntityId>,
}

impl Scope {
    /// Builds a scope; fails when no identifier is given.
    pub fn new(
        user_id: Option<EntityId>,
        agent_id: Option<EntityId>,
        run_id: Option<EntityId>,
    ) -> Result<Self, ScopeError> {
        if user_id.is_none() && agent_id.is_none() && run_id.is_none() {
            return Err(ScopeError::NoIdentifier);
        }
        Ok(Self { user_id, agent_id, run_id })
    }

    /// Parses the three raw identifiers (blank = not given).
    pub fn parse(user_id: Option<&str>, agent_id: Option<&str>, run_id: Option<&str>) -> Result<Self, ScopeError> {
        Self::new(
            EntityId::parse_optional("user_id", user_id)?,
            EntityId::parse_optional("agent_id", agent_id)?,
            EntityId::parse_optional("run_id", run_id)?,
        )
    }

    /// A scope of one user.
    pub fn user(user_id: EntityId) -> Self {
        Self { user_id: Some(user_id), agent_id: None, run_id: None }
    }

    /// The user identifier, if set.
    pub fn user_id(&self) -> Option<&EntityId> {
        self.user_id.as_ref()
    }

    /// The agent identifier, if set.
    pub fn agent_id(&self) -> Option<&EntityId> {
        self.agent_id.as_ref()
    }

    /// The run identifier, if set.
    pub fn run_id(&self) -> Option<&EntityId> {
        self.run_id.as_ref()
    }

    /// The set identifiers as `(key, value)` pairs, in the fixed order user, agent, run.
    pub fn pairs(&self) -> impl Iterator<Item = (&'static str, &EntityId)> {
        [("user_id", &self.user_id), ("agent_id", &self.agent_id), ("run_id", &self.run_id)]
            .into_iter()
            .filter_map(|(key, value)| value.as_ref().map(|v| (key, v)))
    }

    /// True when a memory stored under `owner` is visible from this scope.
    pub fn contains(&self, owner: &Scope) -> bool {
        fn covers(want: &Option<EntityId>, have: &Option<EntityId>) -> bool {
            want.as_ref().is_none_or(|w| have.as_ref() == Some(w))
        }
        covers(&self.user_id, &owner.user_id)
            && covers(&self.agent_id, &owner.agent_id)
            && covers(&self.run_id, &owner.run_id)
    }

    /// A key naming the scope's owner: its user, else its agent, else its run.
    pub fn owner_key(&self) -> String {
        let (kind, id) = self.pairs().next().map_or(("-", ""), |(k, v)| (k, v.as_str()));
        format!("{kind}:{id}")
    }

    /// A stable key naming exactly this scope (used for per-scope locks and journals).
    pub fn key(&self) -> String {
        let part = |v: &Option<EntityId>| {
            v.as_ref().map_or(String::new(), |id| id.as_str().replace('\\', "\\\\").replace('|', "\\|"))
        };
        format!("u:{}|a:{}|r:{}", part(&self.user_id), part(&self.agent_id), part(&self.run_id))
    }
}

/// How many memories one owner (an exact user/agent/run combination) has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeCount {
    /// The owner, exactly as stored.
    pub scope: Scope,
    /// Its memories.
    pub memories: u64,
}

/// Counts memories per owner, from the owners of the memories one by one; owners sorted by key.
pub fn count_by_owner<'a>(owners: impl IntoIterator<Item = &'a Scope>) -> Vec<ScopeCount> {
    let mut counts: std::collections::BTreeMap<String, ScopeCount> = std::collections::BTreeMap::new();
    for owner in owners {
        counts.entry(owner.key()).or_insert_with(|| ScopeCount { scope: owner.clone(), memories: 0 }).memories += 1;
    }
    counts.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_trimmed_and_validated() {
        assert_eq!(EntityId::parse("user_id", "  alice ").unwrap().as_str(), "alice");
        assert_eq!(EntityId::parse("user_id", "  "), Err(ScopeError::Empty { field: "user_id" }));
        assert_eq!(EntityId::parse("run_id", "a\u{0}b"), Err(ScopeError::ControlCharacter { field: "run_id" }));
        let long = "x".repeat(MAX_ENTITY_ID_LEN + 1);
        assert!(matches!(EntityId::parse("agent_id", &long), Err(ScopeError::TooLong { len: 257, .. })));
        assert_eq!(EntityId::parse_optional("agent_id", Some(" ")).unwrap(), None);
    }

    #[test]
    fn a_scope_needs_an_identifier() {
        assert_eq!(Scope::parse(None, Some(""), None), Err(ScopeError::NoIdentifier));
        let scope = Scope::parse(Some("u"), None, Some("r")).unwrap();
        let pairs: Vec<_> = scope.pairs().map(|(k, v)| (k, v.as_str().to_owned())).collect();
        assert_eq!(pairs, vec![("user_id", "u".to_owned()), ("run_id", "r".to_owned())]);
    }

    #[test]
    fn containment_respects_every_set_identifier() {
        let alice = Scope::parse(Some("alice"), None, None).unwrap();
        let alice_run = Scope::parse(Some("alice"), None, Some("r1")).unwrap();
        let bob = Scope::parse(Some("bob"), None, None).unwrap();
        assert!(alice.contains(&alice_run));
        assert!(!alice_run.contains(&alice));
        assert!(!alice.contains(&bob));
    }

    #[test]
    fn owner_keys_group_a_users_scopes() {
        let a = Scope::parse(Some("alice"), None, Some("r1")).unwrap();
        let b = Scope::parse(Some("alice"), Some("bot"), None).unwrap();
        assert_eq!(a.owner_key(), b.owner_key());
        assert_eq!(Scope::parse(None, Some("bot"), None).unwrap().owner_key(), "agent_id:bot");
    }

    #[test]
    fn keys_cannot_collide_through_separators() {
        let a = Scope::parse(Some("x|a:y"), None, None).unwrap();
        let b = Scope::parse(Some("x"), Some("y"), None).unwrap();
        assert_ne!(a.key(), b.key());
    }

    #[test]
    fn owners_are_counted_exactly_once_each() {
        let alice = Scope::parse(Some("alice"), None, None).unwrap();
        let alice_bot = Scope::parse(Some("alice"), Some("bot"), None).unwrap();
        let counts = count_by_owner([&alice, &alice_bot, &alice, &alice]);
        assert_eq!(counts.len(), 2);
        let of = |s: &Scope| counts.iter().find(|c| &c.scope == s).map(|c| c.memories);
        assert_eq!(of(&alice), Some(3));
        assert_eq!(of(&alice_bot), Some(1));
        assert!(count_by_owner([]).is_empty());
    }
}
