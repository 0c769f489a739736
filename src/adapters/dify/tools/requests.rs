//! Turning the parameters of each tool into the validated domain requests.
//!
//! Whose memories: the tools that add, search, list or wipe a scope take `user_id` from the
//! parameters; when it is not given, the user is the Dify end user of the call (the `user_id`
//! the daemon sends with each invocation), so that each end user of an app has memories of their
//! own without the workflow or the agent passing an id. With the provider credential
//! `bind_user_to_dify_user` on, the end user is the `user_id` of every tool, whatever the
//! parameters say (the LLM cannot read or write another user's memories). Without an end user
//! in the request (the command line, an endpoint), `user_id` must be given. The id-based tools
//! take their optional owner from the parameters only (an id names one memory), except under
//! binding, where a lookup by id is always confined to an owner.

use super::outputs::ScopeSource;
use super::params::{ParamError, Params};
use crate::domain::filter::{self, Filter, FilterError};
use crate::domain::fusion::Retrieval;
use crate::domain::memory::{self, MemoryError, MemoryId, MemoryText, Metadata};
use crate::domain::message::Conversation;
use crate::domain::operations::{
    AddRequest, Limit, ListRequest, MemoryRef, Query, RequestError, SearchRequest, Threshold, UpdateRequest,
    LIST_DEFAULT_LIMIT, SEARCH_DEFAULT_TOP_K,
};
use crate::domain::scope::{EntityId, Scope, ScopeError};
use crate::ports::memory_api::{WriteId, WriteRef};
use serde_json::{Map, Value};

/// What the `metadata` parameter accepts (for error messages).
const METADATA_SHAPE: &str = "a JSON object such as {\"topic\": \"food\"}";
/// What the `filters` parameter accepts (for error messages).
const FILTERS_SHAPE: &str = "a JSON object such as {\"category\": \"food\"}";

/// Why the parameters of a call were rejected. Every message names the parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum InputError {
    /// A parameter is missing or of the wrong kind.
    #[error(transparent)]
    Param(#[from] ParamError),
    /// A user / agent / run id is unusable.
    #[error(transparent)]
    Scope(#[from] ScopeError),
    /// A memory id, text or metadata is unusable.
    #[error(transparent)]
    Memory(#[from] MemoryError),
    /// The filters are unusable.
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// A query, limit or threshold is out of range.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The Dify end user id cannot serve as `user_id`.
    #[error("the Dify end user id cannot be used as user_id: {0}")]
    EndUser(ScopeError),
    /// Under `bind_user_to_dify_user` an id-based lookup names no owner (no end user, no ids).
    #[error("user_id is required: bind_user_to_dify_user is on and Dify named no end user for this call")]
    OwnerRequired,
}

/// The identity of one call: the Dify end user, and whether it is bound to `user_id`.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Binding<'a> {
    /// The Dify end user of the call, when the daemon named one.
    pub end_user: Option<&'a str>,
    /// `bind_user_to_dify_user` is on: the end user replaces `user_id` and id-based tools
    /// always check the owner.
    pub bound: bool,
}

impl<'a> Binding<'a> {
    /// The identity of a call by `end_user` (blank = none), bound under `bind_user_to_dify_user`.
    pub(super) fn new(bind_user_to_dify_user: bool, end_user: Option<&'a str>) -> Self {
        Self { end_user: end_user.filter(|u| !u.trim().is_empty()), bound: bind_user_to_dify_user }
    }

    /// The end user as a `user_id`.
    fn end_user_id(&self) -> Result<Option<EntityId>, InputError> {
        self.end_user.map(|u| EntityId::parse("user_id", u).map_err(InputError::EndUser)).transpose()
    }
}

/// The user / agent / run ids of a call, after binding.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Ids {
    user_id: Option<EntityId>,
    agent_id: Option<EntityId>,
    run_id: Option<EntityId>,
    source: ScopeSource,
}

/// A scope and where its user came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ScopeUsed {
    /// The scope.
    pub scope: Scope,
    /// `parameters` or `dify_end_user`.
    pub source: ScopeSource,
}

impl Ids {
    /// Reads `user_id`, `agent_id`, `run_id` (blank = not given) and applies the binding.
    pub(super) fn read(params: &Params<'_>, binding: Binding<'_>) -> Result<Self, InputError> {
        let id = |name: &'static str| -> Result<Option<EntityId>, InputError> {
            Ok(EntityId::parse_optional(name, params.text(name)?.as_deref())?)
        };
        let (user_id, source) = match binding.end_user_id()?.filter(|_| binding.bound) {
            Some(end_user) => (Some(end_user), ScopeSource::DifyEndUser),
            None => (id("user_id")?, ScopeSource::Parameters),
        };
        Ok(Self { user_id, agent_id: id("agent_id")?, run_id: id("run_id")?, source })
    }

    /// A scope that must name a user (the tools that list, search, add or wipe a scope): the
    /// `user_id` given, else the Dify end user of the call.
    pub(super) fn user_scope(mut self, binding: Binding<'_>) -> Result<ScopeUsed, InputError> {
        if self.user_id.is_none() {
            self.user_id = binding.end_user_id()?;
            self.source = ScopeSource::DifyEndUser;
        }
        if self.user_id.is_none() {
            return Err(ParamError::Missing("user_id").into());
        }
        Ok(ScopeUsed { scope: Scope::new(self.user_id, self.agent_id, self.run_id)?, source: self.source })
    }

    /// The optional scope of an id-based tool: `None` when no id is given.
    pub(super) fn optional_scope(self) -> Result<Option<Scope>, InputError> {
        if self.user_id.is_none() && self.agent_id.is_none() && self.run_id.is_none() {
            return Ok(None);
        }
        Ok(Some(Scope::new(self.user_id, self.agent_id, self.run_id)?))
    }

    /// The owner an id-based tool checks: optional, except under `bind_user_to_dify_user`, where
    /// a lookup by id is always confined to an owner (the end user, else the `user_id` given).
    pub(super) fn owner_scope(self, binding: Binding<'_>) -> Result<Option<Scope>, InputError> {
        match self.optional_scope()? {
            None if binding.bound => Err(InputError::OwnerRequired),
            scope => Ok(scope),
        }
    }
}

/// The scope's ids as a JSON object (`{"user_id": …, "agent_id": …}`), as replies echo them.
pub(super) fn scope_json(scope: &Scope) -> Map<String, Value> {
    scope.pairs().map(|(key, id)| (key.to_owned(), Value::String(id.as_str().to_owned()))).collect()
}

/// What an add call asks for.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum AddInput {
    /// Nothing but blank messages: skip without asking the engine.
    Skip(ScopeUsed),
    /// A conversation to remember, and where its user came from.
    Add(Box<AddRequest>, ScopeSource),
}

/// Parses `add_memory`: `user`, `assistant`, ids, `metadata`, `infer`, `timestamp`.
pub(super) fn add(params: &Params<'_>, binding: Binding<'_>) -> Result<AddInput, InputError> {
    let user = params.text("user")?;
    let assistant = params.text("assistant")?;
    // One limit for memory text, whether the model extracts facts or not (never a silent skip).
    for (field, text) in [("user", &user), ("assistant", &assistant)] {
        text.as_deref().map(|t| memory::refuse_nul(field, t)).transpose()?;
        text.as_deref().map(|t| memory::check_text_len(field, t)).transpose()?;
    }
    let used = Ids::read(params, binding)?.user_scope(binding)?;
    let metadata = metadata(params)?;
    let infer = params.boolean("infer")?.unwrap_or(true);
    let observed_at = params.timestamp("timestamp")?;
    let expires_at = params.expiration("expiration_date")?;
    let idempotency_key = idempotency_key(params)?;
    let conversation = Conversation::from_turn(user.as_deref().unwrap_or(""), assistant.as_deref());
    if conversation.is_empty() {
        return Ok(AddInput::Skip(used));
    }
    let source = used.source;
    let request = AddRequest {
        conversation,
        scope: used.scope,
        metadata,
        infer,
        actor_id: None,
        observed_at,
        expires_at,
        idempotency_key,
    };
    Ok(AddInput::Add(Box::new(request), source))
}

/// Parses `search_memory`: `query`, ids, `filters`, `top_k`, `threshold`, `rerank`, `retrieval`, `explain`.
pub(super) fn search(params: &Params<'_>, binding: Binding<'_>) -> Result<(SearchRequest, ScopeSource), InputError> {
    let query = Query::parse(&params.required_text("query")?)?;
    let ScopeUsed { scope, source } = Ids::read(params, binding)?.user_scope(binding)?;
    let (filter, _) = filters(params)?;
    let limit = limit(params, "top_k", SEARCH_DEFAULT_TOP_K)?;
    let threshold = params.number("threshold")?.map(Threshold::new).transpose()?;
    let rerank = params.boolean("rerank")?.unwrap_or(true);
    let retrieval = match params.text("retrieval")? {
        None => Retrieval::default(),
        Some(raw) => Retrieval::parse(&raw).ok_or(ParamError::WrongType {
            name: "retrieval",
            expected: "one of \"hybrid\", \"semantic\", \"lexical\"",
            got: format!("{raw:?}"),
        })?,
    };
    let explain = params.boolean("explain")?.unwrap_or(false);
    let show_expired = params.boolean("show_expired")?.unwrap_or(false);
    let request = SearchRequest { query, scope, filter, limit, threshold, rerank, retrieval, explain, show_expired };
    Ok((request, source))
}

/// Parses `max_context_chars` of `search_memory`: a whole number within bounds, else the default.
pub(super) fn max_context_chars(params: &Params<'_>) -> Result<usize, InputError> {
    use super::context::{DEFAULT_MAX_CONTEXT_CHARS, MAX_MAX_CONTEXT_CHARS, MIN_MAX_CONTEXT_CHARS};
    let Some(value) = params.number("max_context_chars")? else { return Ok(DEFAULT_MAX_CONTEXT_CHARS) };
    let range = MIN_MAX_CONTEXT_CHARS as f64..=MAX_MAX_CONTEXT_CHARS as f64;
    if value.fract() != 0.0 || !range.contains(&value) {
        return Err(ParamError::WrongType {
            name: "max_context_chars",
            expected: "a whole number of characters from 50 to 100000",
            got: value.to_string(),
        }
        .into());
    }
    Ok(value as usize)
}

/// A get_all request and the filter JSON it was parsed from (echoed in replies).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ListInput {
    /// The validated request.
    pub request: ListRequest,
    /// The filters as given (parsed JSON), when any.
    pub filters_json: Option<Value>,
    /// Where the user of the scope came from.
    pub source: ScopeSource,
}

/// Parses `get_all_memories`: ids, `limit`, `filters`.
pub(super) fn list(params: &Params<'_>, binding: Binding<'_>) -> Result<ListInput, InputError> {
    let ScopeUsed { scope, source } = Ids::read(params, binding)?.user_scope(binding)?;
    let (filter, filters_json) = filters(params)?;
    let limit = limit(params, "limit", LIST_DEFAULT_LIMIT)?;
    let show_expired = params.boolean("show_expired")?.unwrap_or(false);
    Ok(ListInput { request: ListRequest { scope, filter, limit, show_expired }, filters_json, source })
}

/// Parses the `memory_id` and optional ids of get / delete / history.
pub(super) fn memory_ref(params: &Params<'_>, binding: Binding<'_>) -> Result<MemoryRef, InputError> {
    let id = MemoryId::parse(&params.required_text("memory_id")?)?;
    let scope = Ids::read(params, binding)?.owner_scope(binding)?;
    Ok(MemoryRef { id, scope })
}

/// Parses `get_write_status`: `write_id` and the optional owner (always set under binding).
pub(super) fn write_ref(params: &Params<'_>, binding: Binding<'_>) -> Result<WriteRef, InputError> {
    let id = WriteId(params.required_text("write_id")?.trim().to_owned());
    let scope = Ids::read(params, binding)?.owner_scope(binding)?;
    Ok(WriteRef { id, scope })
}

/// Parses `update_memory`: `memory_id`, `text`, optional `metadata` and ids.
pub(super) fn update(params: &Params<'_>, binding: Binding<'_>) -> Result<UpdateRequest, InputError> {
    let target = memory_ref(params, binding)?;
    let text = MemoryText::parse("text", &params.required_text("text")?)?;
    let metadata = metadata(params)?;
    let expires_at = params.expiration("expiration_date")?;
    Ok(UpdateRequest { target, text, metadata, expires_at })
}

/// Parses `delete_all_memories`: the scope to wipe (`user_id`, else the Dify end user).
pub(super) fn delete_all(params: &Params<'_>, binding: Binding<'_>) -> Result<ScopeUsed, InputError> {
    Ids::read(params, binding)?.user_scope(binding)
}

/// Longest `idempotency_key` accepted.
const MAX_IDEMPOTENCY_KEY_CHARS: usize = 200;

/// `idempotency_key` of an add: trimmed, at most [`MAX_IDEMPOTENCY_KEY_CHARS`] characters.
fn idempotency_key(params: &Params<'_>) -> Result<Option<String>, InputError> {
    let Some(raw) = params.text("idempotency_key")? else { return Ok(None) };
    let key = raw.trim();
    if key.chars().count() > MAX_IDEMPOTENCY_KEY_CHARS || key.contains('\0') {
        return Err(ParamError::WrongType {
            name: "idempotency_key",
            expected: "a text of at most 200 characters",
            got: format!("{} characters", key.chars().count()),
        }
        .into());
    }
    Ok(Some(key.to_owned()))
}

fn metadata(params: &Params<'_>) -> Result<Metadata, InputError> {
    match params.json("metadata", METADATA_SHAPE)? {
        None => Ok(Metadata::default()),
        Some(value @ Value::Object(_)) => Ok(Metadata::parse(value)?),
        Some(other) => Err(ParamError::WrongType {
            name: "metadata",
            expected: METADATA_SHAPE,
            got: super::params::describe(&other),
        }
        .into()),
    }
}

fn filters(params: &Params<'_>) -> Result<(Option<Filter>, Option<Value>), InputError> {
    let raw = params.json("filters", FILTERS_SHAPE)?;
    let filter = filter::parse_optional(raw.as_ref())?;
    let echoed = if filter.is_some() { raw } else { None };
    Ok((filter, echoed))
}

fn limit(params: &Params<'_>, name: &'static str, default: usize) -> Result<Limit, InputError> {
    let Some(value) = params.number(name)? else {
        return Ok(Limit::new(name, default as i64)?);
    };
    if value.fract() != 0.0 || value < i64::MIN as f64 || value > i64::MAX as f64 {
        return Err(RequestError::BadLimit { field: name, got: value.to_string() }.into());
    }
    Ok(Limit::new(name, value as i64)?)
}
