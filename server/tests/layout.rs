//! The house's shape: data flows one way. Each source file of `server` and
//! `app` is a module; a module that names another (`use crate::…`, `super::…`
//! or a path in its code, macros included) depends on it. This test fails on
//! any circle of such dependencies, and names the files in it.
//!
//! `make lint` runs it: `cargo test -p server --test layout`.

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

#[test]
fn the_server_has_no_import_circle() {
    assert_no_circle(&crate_dir("server"));
}

#[test]
fn the_app_has_no_import_circle() {
    assert_no_circle(&crate_dir("app"));
}

#[test]
fn a_circle_is_found_and_named() {
    let graph = Graph::from_sources([
        (
            module("a"),
            "use crate::b::Thing; fn f() { crate::c::g(); }",
        ),
        (module("b"), "use crate::{c::{self, H}, d};"),
        (module("c"), "pub fn g() { super::a::f() }"),
        (module("d"), "use super::b::Thing;"),
        (module("e"), "pub fn alone() {}"),
    ]);
    let circles = graph.circles();
    assert_eq!(circles.len(), 1, "{circles:?}");
    assert_eq!(circles[0], ["a", "b", "c", "d"].map(|m| vec![m.to_owned()]));
    // A folder's module and its files: `crate::x::y::Z` names `x/y.rs`.
    let nested = Graph::from_sources([
        (module("x"), "pub mod y;"),
        (vec!["x".into(), "y".into()], "use crate::z::Z;"),
        (module("z"), "use crate::x::y::Y; use self::inner::W;"),
    ]);
    assert_eq!(nested.circles().len(), 1);
    assert!(nested.edges[&module("z")].contains(&vec!["x".into(), "y".into()]));
}

fn module(name: &str) -> Vec<String> {
    vec![name.to_owned()]
}

fn crate_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name)
        .join("src")
}

fn assert_no_circle(src: &Path) {
    let mut sources = Vec::new();
    collect(src, src, &mut sources);
    assert!(sources.len() > 3, "no sources under {}", src.display());
    let graph = Graph::from_sources(sources.iter().map(|(m, text)| (m.clone(), text.as_str())));
    let circles = graph.circles();
    // Each circle, and who names whom inside it.
    let shown: Vec<String> = circles
        .iter()
        .map(|circle| {
            let ties: Vec<String> = circle
                .iter()
                .flat_map(|from| {
                    graph.edges[from]
                        .iter()
                        .filter(|to| circle.contains(to))
                        .map(move |to| format!("  {} -> {}", from.join("/"), to.join("/")))
                })
                .collect();
            let files: Vec<String> = circle.iter().map(|m| m.join("/")).collect();
            format!("{}\n{}", files.join(" ⇄ "), ties.join("\n"))
        })
        .collect();
    assert!(
        circles.is_empty(),
        "import circles under {}:\n{}",
        src.display(),
        shown.join("\n")
    );
}

/// Every `.rs` file under `dir` as (module path, text); `lib.rs` and `main.rs`
/// are the crate's root and `mod.rs` its folder's module.
fn collect(root: &Path, dir: &Path, out: &mut Vec<(Vec<String>, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(root, &path, out);
            continue;
        }
        if path.extension().is_none_or(|ext| ext != "rs") {
            continue;
        }
        let relative = path.strip_prefix(root).unwrap().with_extension("");
        let mut parts: Vec<String> = relative
            .components()
            .map(|part| part.as_os_str().to_string_lossy().into_owned())
            .collect();
        if matches!(parts.last().map(String::as_str), Some("mod")) {
            parts.pop();
        }
        if matches!(parts.as_slice(), [only] if only == "lib" || only == "main") {
            continue; // The root declares the modules; it is no room of the house.
        }
        out.push((parts, std::fs::read_to_string(&path).unwrap()));
    }
}

struct Graph {
    edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
}

impl Graph {
    fn from_sources<'a>(sources: impl IntoIterator<Item = (Vec<String>, &'a str)>) -> Self {
        let sources: Vec<(Vec<String>, &str)> = sources.into_iter().collect();
        let modules: BTreeSet<Vec<String>> = sources.iter().map(|(m, _)| m.clone()).collect();
        let mut edges = BTreeMap::new();
        for (module, text) in &sources {
            let tokens: TokenStream = text
                .parse()
                .unwrap_or_else(|error| panic!("{}: {error}", module.join("/")));
            let mut paths = Vec::new();
            paths_in(tokens, module, &mut paths);
            let named: BTreeSet<Vec<String>> = paths
                .iter()
                .filter_map(|(here, path)| resolve(here, path, &modules))
                .filter(|target| target != module)
                .collect();
            edges.insert(module.clone(), named);
        }
        Self { edges }
    }

    /// The strongly connected groups of more than one module (Tarjan), each
    /// sorted.
    fn circles(&self) -> Vec<Vec<Vec<String>>> {
        struct Walk<'g> {
            graph: &'g Graph,
            index: BTreeMap<&'g Vec<String>, usize>,
            low: BTreeMap<&'g Vec<String>, usize>,
            stack: Vec<&'g Vec<String>>,
            on_stack: BTreeSet<&'g Vec<String>>,
            found: Vec<Vec<Vec<String>>>,
        }
        impl<'g> Walk<'g> {
            fn visit(&mut self, node: &'g Vec<String>) {
                let at = self.index.len();
                self.index.insert(node, at);
                self.low.insert(node, at);
                self.stack.push(node);
                self.on_stack.insert(node);
                for next in &self.graph.edges[node] {
                    let Some(next) = self.graph.edges.get_key_value(next).map(|(k, _)| k) else {
                        continue;
                    };
                    if !self.index.contains_key(next) {
                        self.visit(next);
                        let low = self.low[node].min(self.low[next]);
                        self.low.insert(node, low);
                    } else if self.on_stack.contains(next) {
                        let low = self.low[node].min(self.index[next]);
                        self.low.insert(node, low);
                    }
                }
                if self.low[node] == self.index[node] {
                    let mut group = Vec::new();
                    while let Some(member) = self.stack.pop() {
                        self.on_stack.remove(member);
                        group.push(member.clone());
                        if member == node {
                            break;
                        }
                    }
                    if group.len() > 1 {
                        group.sort();
                        self.found.push(group);
                    }
                }
            }
        }
        let mut walk = Walk {
            graph: self,
            index: BTreeMap::new(),
            low: BTreeMap::new(),
            stack: Vec::new(),
            on_stack: BTreeSet::new(),
            found: Vec::new(),
        };
        for node in self.edges.keys() {
            if !walk.index.contains_key(node) {
                walk.visit(node);
            }
        }
        walk.found.sort();
        walk.found
    }
}

/// The module that `path`, as written in module `here`, names: the longest
/// prefix of its absolute form that is a module of the crate. A lone
/// `crate`, `self` or `super` (a visibility, `self.x`) names none, nor does a
/// path that names no module of the crate (another crate's, a type's).
fn resolve(
    here: &[String],
    path: &[String],
    modules: &BTreeSet<Vec<String>>,
) -> Option<Vec<String>> {
    if path.len() < 2 {
        return None;
    }
    let mut absolute: Vec<String> = Vec::new();
    let mut rest = path;
    match path[0].as_str() {
        "crate" => rest = &path[1..],
        "self" => {
            absolute.extend_from_slice(here);
            rest = &path[1..];
        }
        "super" => {
            absolute.extend_from_slice(here);
            while let Some("super") = rest.first().map(String::as_str) {
                absolute.pop()?;
                rest = &rest[1..];
            }
        }
        // A path relative to `here`: one of its own modules.
        _ => absolute.extend_from_slice(here),
    }
    absolute.extend(rest.iter().cloned());
    let floor = if matches!(path[0].as_str(), "crate" | "self" | "super") {
        1
    } else {
        here.len() + 1
    };
    (floor..=absolute.len())
        .rev()
        .map(|len| absolute[..len].to_vec())
        .find(|prefix| modules.contains(prefix))
}

/// Every path in `tokens` (written in module `here`) that starts with
/// `crate`, `self`, `super` or any name followed by `::`, macro bodies
/// included, with `use` groups (`a::{b::{self, C}, d}`) spread out; an inline
/// `mod name { … }` is read as the module `here::name`.
fn paths_in(tokens: TokenStream, here: &[String], out: &mut Vec<(Vec<String>, Vec<String>)>) {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            TokenTree::Ident(ident) if ident == "mod" => {
                if let (Some(TokenTree::Ident(name)), Some(TokenTree::Group(body))) =
                    (tokens.get(i + 1), tokens.get(i + 2))
                {
                    let mut inner = here.to_vec();
                    inner.push(name.to_string());
                    paths_in(body.stream(), &inner, out);
                    i += 3;
                } else {
                    i += 1;
                }
            }
            TokenTree::Ident(_) if !follows_path_separator(&tokens, i) => {
                let mut found = Vec::new();
                let next = path_at(&tokens, i, Vec::new(), &mut found);
                out.extend(found.into_iter().map(|path| (here.to_vec(), path)));
                i = next;
            }
            TokenTree::Group(group) => {
                paths_in(group.stream(), here, out);
                i += 1;
            }
            _ => i += 1,
        }
    }
}

/// Whether the token before `i` is `::` (then `i` is inside a path already).
fn follows_path_separator(tokens: &[TokenTree], i: usize) -> bool {
    i >= 2 && is_separator(&tokens[i - 2], &tokens[i - 1])
}

fn is_separator(first: &TokenTree, second: &TokenTree) -> bool {
    matches!((first, second), (TokenTree::Punct(a), TokenTree::Punct(b)) if a.as_char() == ':' && b.as_char() == ':')
}

/// Reads the path starting at `tokens[i]` after `prefix`; returns the index
/// after it.
fn path_at(
    tokens: &[TokenTree],
    mut i: usize,
    mut prefix: Vec<String>,
    out: &mut Vec<Vec<String>>,
) -> usize {
    loop {
        match tokens.get(i) {
            Some(TokenTree::Ident(ident)) => {
                let name = ident.to_string();
                // `a::{self, B}`: `self` is `a` itself.
                if name != "self" || prefix.is_empty() {
                    prefix.push(name);
                }
                i += 1;
            }
            Some(TokenTree::Group(group)) if group.delimiter() == Delimiter::Brace => {
                group_paths(group.stream(), &prefix, out);
                return i + 1;
            }
            _ => break,
        }
        match (tokens.get(i), tokens.get(i + 1)) {
            (Some(first), Some(second)) if is_separator(first, second) => i += 2,
            _ => break,
        }
    }
    out.push(prefix);
    i
}

/// The items of a `use` group, each after `prefix`.
fn group_paths(tokens: TokenStream, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            TokenTree::Ident(_) | TokenTree::Group(_) => {
                i = path_at(&tokens, i, prefix.to_vec(), out);
            }
            _ => i += 1,
        }
    }
}
