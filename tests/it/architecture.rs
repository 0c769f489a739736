//! The hexagon's dependency rule, checked on the sources.
//!
//! Every file of the library is parsed with `syn` (not matched with patterns), each path it
//! names (`use` trees and paths in code) is resolved to the module it lands in, and two rules are
//! checked:
//!
//! - **Rings**: `domain` uses nothing of ours but itself; `ports` uses `domain`; `app` uses
//!   `ports` and `domain`; `adapters` use `ports`, `domain` and their own shared plumbing. Only
//!   the composition root (`main.rs`) wires adapters into the app.
//! - **No import cycles**: among the children of any module (each child standing for everything
//!   below it), no two reach each other. A module and its own descendants may refer to each other
//!   (a folder's `mod.rs` re-exports and uses its parts); siblings may not go round in a circle.
//!
//! The checker itself is tested on small made-up trees, so a wrong import or a cycle is shown to
//! fail it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use syn::visit::Visit;

/// A module path below the crate root, e.g. `["adapters", "dify", "runtime"]`.
type ModPath = Vec<String>;

/// One module that has a file of its own, with what its file refers to.
struct FileModule {
    file: PathBuf,
    /// Every module path named in the file, resolved to an absolute path (not yet trimmed to a
    /// known module), with the path as written.
    references: Vec<(ModPath, String)>,
}

/// The parsed crate: every file module by its path.
struct Crate {
    modules: BTreeMap<ModPath, FileModule>,
}

/// A rule broken somewhere in the tree.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Violation {
    /// A module names another that its ring may not use.
    WrongRing { from: String, to: String, file: String, written: String },
    /// Sibling modules (or folders) of one parent that reach each other.
    Cycle { parent: String, members: Vec<String> },
}

/// Where a file module's children live: `foo.rs` keeps them in `foo/`, `mod.rs`/`lib.rs` beside.
fn child_dir(file: &Path) -> PathBuf {
    let parent = file.parent().unwrap_or(Path::new("")).to_path_buf();
    match file.file_stem().and_then(|s| s.to_str()) {
        Some("mod") | Some("lib") | Some("main") => parent,
        Some(stem) => parent.join(stem),
        None => parent,
    }
}

/// The `#[path = "…"]` attribute of a module declaration, if any.
fn path_attribute(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|attr| {
        let syn::Meta::NameValue(nv) = &attr.meta else { return None };
        if !nv.path.is_ident("path") {
            return None;
        }
        match &nv.value {
            syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => Some(s.value()),
            _ => None,
        }
    })
}

/// Collects the paths a file names, resolving `crate::`, `super::`, `self::` and names of child
/// modules against the module they are written in (inline modules included).
struct PathCollector<'a> {
    /// The inline-module stack: the file module's path followed by any `mod x { … }` entered.
    current: ModPath,
    /// Child module names declared in each module of the stack (file and inline).
    children: &'a BTreeMap<ModPath, BTreeSet<String>>,
    /// The name the crate is known by outside itself (`mem0_dify`).
    crate_name: &'a str,
    found: Vec<(ModPath, String)>,
}

impl PathCollector<'_> {
    /// Resolves a path's segments to an absolute module path, or `None` for a path that does not
    /// start inside this crate (std, other crates, local names).
    fn resolve(&self, segments: &[String]) -> Option<ModPath> {
        let first = segments.first()?;
        let (mut base, rest) = match first.as_str() {
            "crate" => (Vec::new(), &segments[1..]),
            name if name == self.crate_name => (Vec::new(), &segments[1..]),
            "self" => (self.current.clone(), &segments[1..]),
            "super" => {
                let mut base = self.current.clone();
                let mut rest = segments;
                while rest.first().map(String::as_str) == Some("super") {
                    base.pop();
                    rest = &rest[1..];
                }
                (base, rest)
            }
            name => {
                let is_child = self.children.get(&self.current).is_some_and(|c| c.contains(name));
                if !is_child {
                    return None;
                }
                (self.current.clone(), segments)
            }
        };
        base.extend(rest.iter().filter(|s| s.as_str() != "self").cloned());
        Some(base)
    }

    fn record(&mut self, segments: Vec<String>) {
        if let Some(path) = self.resolve(&segments) {
            self.found.push((path, segments.join("::")));
        }
    }

    /// Expands a `use` tree into the full paths it imports.
    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let mut path = prefix.clone();
                path.push(n.ident.to_string());
                self.record(path);
            }
            syn::UseTree::Rename(r) => {
                let mut path = prefix.clone();
                path.push(r.ident.to_string());
                self.record(path);
            }
            syn::UseTree::Glob(_) => self.record(prefix.clone()),
            syn::UseTree::Group(g) => {
                for item in &g.items {
                    self.use_tree(prefix, item);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for PathCollector<'_> {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &item.tree);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.record(segments);
        syn::visit::visit_path(self, path);
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if item.content.is_some() {
            self.current.push(item.ident.to_string());
            syn::visit::visit_item_mod(self, item);
            self.current.pop();
        }
    }
}

/// Child modules declared in a file (`mod x;` and inline `mod x { … }`, nested), keyed by the
/// module they are declared in; returns the `mod x;` declarations that live in files of their own.
fn declared_modules(
    path: &ModPath,
    items: &[syn::Item],
    children: &mut BTreeMap<ModPath, BTreeSet<String>>,
) -> Vec<(String, Option<String>)> {
    let mut files = Vec::new();
    for item in items {
        let syn::Item::Mod(m) = item else { continue };
        let name = m.ident.to_string();
        children.entry(path.clone()).or_default().insert(name.clone());
        match &m.content {
            Some((_, inner)) => {
                let mut inner_path = path.clone();
                inner_path.push(name);
                // Inline modules are part of the file; their own `mod x;` would be unusual.
                declared_modules(&inner_path, inner, children);
            }
            None => files.push((name, path_attribute(&m.attrs))),
        }
    }
    files
}

impl Crate {
    /// Parses the crate whose root file is `root_file`, following `mod` declarations.
    fn parse(root_file: &Path, crate_name: &str) -> Result<Crate, String> {
        Self::parse_with(root_file, crate_name, &|p: &Path| {
            fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))
        })
    }

    /// Parses a crate reading its files through `read` (a made-up tree in the checker's tests).
    fn parse_with(
        root_file: &Path,
        crate_name: &str,
        read: &dyn Fn(&Path) -> Result<String, String>,
    ) -> Result<Crate, String> {
        let mut pending = vec![(Vec::new(), root_file.to_path_buf())];
        let mut parsed = Vec::new();
        let mut children = BTreeMap::new();
        while let Some((path, file)) = pending.pop() {
            let text = read(&file)?;
            let ast = syn::parse_file(&text).map_err(|e| format!("{}: {e}", file.display()))?;
            for (name, path_attr) in declared_modules(&path, &ast.items, &mut children) {
                let dir = child_dir(&file);
                let child_file = match path_attr {
                    Some(p) => file.parent().unwrap_or(Path::new("")).join(p),
                    None if read(&dir.join(format!("{name}.rs"))).is_ok() => dir.join(format!("{name}.rs")),
                    None => dir.join(&name).join("mod.rs"),
                };
                let mut child = path.clone();
                child.push(name);
                pending.push((child, child_file));
            }
            parsed.push((path, file, ast));
        }
        let mut modules = BTreeMap::new();
        for (path, file, ast) in parsed {
            let mut collector =
                PathCollector { current: path.clone(), children: &children, crate_name, found: Vec::new() };
            collector.visit_file(&ast);
            modules.insert(path, FileModule { file, references: collector.found });
        }
        Ok(Crate { modules })
    }

    /// The file module a resolved path lands in: its longest prefix that has a file of its own.
    fn owner_of(&self, path: &[String]) -> ModPath {
        (0..=path.len()).rev().map(|n| path[..n].to_vec()).find(|p| self.modules.contains_key(p)).unwrap_or_default()
    }

    /// Module-to-module edges (`from` names something in `to`), with the first path seen.
    fn edges(&self) -> BTreeMap<(ModPath, ModPath), (PathBuf, String)> {
        let mut edges = BTreeMap::new();
        for (from, module) in &self.modules {
            for (reference, written) in &module.references {
                let to = self.owner_of(reference);
                if &to != from {
                    edges.entry((from.clone(), to)).or_insert_with(|| (module.file.clone(), written.clone()));
                }
            }
        }
        edges
    }

    fn check(&self) -> Vec<Violation> {
        let edges = self.edges();
        let mut violations = ring_violations(&edges);
        violations.extend(cycles(self.modules.keys(), edges.keys()));
        violations.sort();
        violations
    }
}

/// The ring a module belongs to: the first segment of its path (`""` for the crate root).
fn ring(path: &[String]) -> &str {
    path.first().map(String::as_str).unwrap_or("")
}

/// What each ring may use besides itself.
fn may_use(from: &str, to: &str) -> bool {
    from == to
        || to.is_empty()
        || matches!((from, to), ("" | "ports" | "app" | "adapters", "domain") | ("app" | "adapters", "ports") | ("", _))
}

fn ring_violations(edges: &BTreeMap<(ModPath, ModPath), (PathBuf, String)>) -> Vec<Violation> {
    edges
        .iter()
        .filter(|((from, to), _)| !may_use(ring(from), ring(to)))
        .map(|((from, to), (file, written))| Violation::WrongRing {
            from: from.join("::"),
            to: to.join("::"),
            file: file.display().to_string(),
            written: written.clone(),
        })
        .collect()
}

/// Cycles among the children of every module: each edge between two modules is lifted to the
/// two children of their closest common ancestor that contain them.
fn cycles<'a>(
    modules: impl Iterator<Item = &'a ModPath>,
    edges: impl Iterator<Item = &'a (ModPath, ModPath)>,
) -> Vec<Violation> {
    let modules: Vec<&ModPath> = modules.collect();
    let mut by_parent: BTreeMap<ModPath, BTreeSet<(String, String)>> = BTreeMap::new();
    for (from, to) in edges {
        let common = from.iter().zip(to.iter()).take_while(|(a, b)| a == b).count();
        // One contains the other: a module and its descendants may refer to each other.
        if common == from.len() || common == to.len() {
            continue;
        }
        by_parent.entry(from[..common].to_vec()).or_default().insert((from[common].clone(), to[common].clone()));
    }
    let mut violations = Vec::new();
    for (parent, sibling_edges) in by_parent {
        let children: BTreeSet<String> = modules
            .iter()
            .filter(|m| m.len() > parent.len() && m[..parent.len()] == parent[..])
            .map(|m| m[parent.len()].clone())
            .collect();
        for component in strongly_connected(&children, &sibling_edges) {
            if component.len() > 1 {
                violations.push(Violation::Cycle {
                    parent: if parent.is_empty() { "crate".into() } else { parent.join("::") },
                    members: component,
                });
            }
        }
    }
    violations
}

/// Tarjan's strongly connected components of a small graph.
fn strongly_connected(nodes: &BTreeSet<String>, edges: &BTreeSet<(String, String)>) -> Vec<Vec<String>> {
    struct State<'a> {
        edges: &'a BTreeSet<(String, String)>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        components: Vec<Vec<String>>,
    }
    fn visit<'a>(state: &mut State<'a>, node: &'a str) {
        let i = state.index.len();
        state.index.insert(node, i);
        state.low.insert(node, i);
        state.stack.push(node);
        state.on_stack.insert(node);
        let targets: Vec<&'a str> = state.edges.iter().filter(|(a, _)| a == node).map(|(_, b)| b.as_str()).collect();
        for target in targets {
            if !state.index.contains_key(target) {
                visit(state, target);
                let low = state.low[target].min(state.low[node]);
                state.low.insert(node, low);
            } else if state.on_stack.contains(target) {
                let low = state.index[target].min(state.low[node]);
                state.low.insert(node, low);
            }
        }
        if state.low[node] == state.index[node] {
            let mut component = Vec::new();
            while let Some(member) = state.stack.pop() {
                state.on_stack.remove(member);
                component.push(member.to_string());
                if member == node {
                    break;
                }
            }
            component.sort();
            state.components.push(component);
        }
    }
    let mut state = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        components: Vec::new(),
    };
    let all: BTreeSet<&str> =
        nodes.iter().map(String::as_str).chain(edges.iter().flat_map(|(a, b)| [a.as_str(), b.as_str()])).collect();
    for node in all {
        if !state.index.contains_key(node) {
            visit(&mut state, node);
        }
    }
    state.components
}

fn describe(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| match v {
            Violation::WrongRing { from, to, file, written } => {
                format!("  {file}: `{from}` uses `{to}` (`{written}`), which its ring may not use")
            }
            Violation::Cycle { parent, members } => {
                format!("  import cycle among the children of `{parent}`: {}", members.join(" <-> "))
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_library_keeps_the_hexagon_and_has_no_import_cycles() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs");
    let parsed = Crate::parse(&root, "mem0_dify").expect("the library's sources parse");
    assert!(
        parsed.modules.len() > 50,
        "the walk found only {} modules: the module discovery is broken",
        parsed.modules.len()
    );
    for ring in ["domain", "ports", "app", "adapters"] {
        assert!(parsed.modules.contains_key(&vec![ring.to_string()]), "ring `{ring}` not found");
    }
    let edges = parsed.edges();
    let known = (vec!["app".to_string(), "api".to_string()], vec!["ports".to_string(), "memory_api".to_string()]);
    assert!(
        edges.len() > 200 && edges.contains_key(&known),
        "only {} module edges found, or app::api -> ports::memory_api missing: the path resolution is broken",
        edges.len()
    );
    let violations = parsed.check();
    assert!(violations.is_empty(), "the architecture rule is broken:\n{}", describe(&violations));
}

/// A made-up crate from `(file, text)` pairs, for testing the checker itself.
fn made_up(files: &[(&str, &str)]) -> Vec<Violation> {
    let files: BTreeMap<PathBuf, String> = files.iter().map(|(p, t)| (PathBuf::from(p), t.to_string())).collect();
    let read = |p: &Path| files.get(p).cloned().ok_or_else(|| format!("no file {}", p.display()));
    Crate::parse_with(Path::new("src/lib.rs"), "demo", &read).expect("made-up crate parses").check()
}

const RINGS: &str = "pub mod domain; pub mod ports; pub mod app; pub mod adapters;";

#[test]
fn a_clean_made_up_tree_passes() {
    let violations = made_up(&[
        ("src/lib.rs", RINGS),
        ("src/domain.rs", "pub struct Fact;"),
        ("src/ports.rs", "use crate::domain::Fact; pub trait Llm { fn f(&self) -> Fact; }"),
        ("src/app.rs", "use crate::ports::Llm; pub fn run(_: &dyn Llm) { let _ = crate::domain::Fact; }"),
        ("src/adapters.rs", "pub mod a; pub mod b;"),
        ("src/adapters/a.rs", "use super::b::B; pub struct A;"),
        (
            "src/adapters/b.rs",
            "pub struct B; impl crate::ports::Llm for B { fn f(&self) -> crate::domain::Fact { crate::domain::Fact } }",
        ),
    ]);
    assert_eq!(violations, vec![]);
}

#[test]
fn a_wrong_import_is_reported_with_its_file_and_path() {
    let violations = made_up(&[
        ("src/lib.rs", RINGS),
        ("src/domain.rs", "pub struct Fact;\n\nuse crate::adapters::Store;"),
        ("src/ports.rs", ""),
        ("src/app.rs", "fn f() { let _ = demo::adapters::Store; }"),
        ("src/adapters.rs", "pub struct Store;"),
    ]);
    assert_eq!(
        violations,
        vec![
            Violation::WrongRing {
                from: "app".into(),
                to: "adapters".into(),
                file: "src/app.rs".into(),
                written: "demo::adapters::Store".into()
            },
            Violation::WrongRing {
                from: "domain".into(),
                to: "adapters".into(),
                file: "src/domain.rs".into(),
                written: "crate::adapters::Store".into()
            },
        ]
    );
}

#[test]
fn cycles_between_files_and_between_folders_are_reported() {
    let violations = made_up(&[
        ("src/lib.rs", RINGS),
        ("src/domain.rs", ""),
        ("src/ports.rs", ""),
        ("src/app.rs", "mod engines; mod writes;"),
        ("src/app/engines.rs", "use super::writes::Writer; pub struct Engine;"),
        ("src/app/writes.rs", "pub struct Writer(crate::app::engines::Engine);"),
        ("src/adapters.rs", "pub mod llm; pub mod dify;"),
        ("src/adapters/llm/mod.rs", "pub mod base; pub fn table() { let _ = crate::adapters::dify::models::Chat; }"),
        ("src/adapters/llm/base.rs", "pub struct Keys;"),
        ("src/adapters/dify.rs", "pub mod models;"),
        ("src/adapters/dify/models.rs", "use crate::adapters::llm::base::Keys; pub struct Chat;"),
    ]);
    assert_eq!(
        violations,
        vec![
            Violation::Cycle { parent: "adapters".into(), members: vec!["dify".into(), "llm".into()] },
            Violation::Cycle { parent: "app".into(), members: vec!["engines".into(), "writes".into()] },
        ]
    );
}

#[test]
fn a_module_and_its_descendants_may_refer_to_each_other() {
    let violations = made_up(&[
        ("src/lib.rs", RINGS),
        ("src/domain.rs", "mod facts; pub use facts::Fact; #[cfg(test)] mod tests { use super::*; }"),
        ("src/domain/facts.rs", "pub struct Fact; fn f() { let _ = super::Fact; }"),
        ("src/ports.rs", ""),
        ("src/app.rs", ""),
        ("src/adapters.rs", ""),
    ]);
    assert_eq!(violations, vec![]);
}
