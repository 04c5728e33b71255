//! The module graph of `src/` points one way: every file's imports (`use crate::..`,
//! `crate::..` paths, `super::..`, and a `mod.rs`'s paths into its own children) go to files of
//! the same or a lower layer, and no files import each other in a circle.
//!
//! Layers, bottom to top: `error` and `names` (0), `numerics` (1), `formats` (2), `backend` (3),
//! `train` (4), `science` (5), `pipelines` (6). The command-line tool (`src/bin/`) sees only the
//! library's public paths. The checker works on (path, text) pairs, so the tests at the end
//! hold it to fail on a planted circle and a planted upward import.
//!
//! The last tests hold every function of the crate (library, tests, benches, examples) to at most
//! 80 lines unless a comment above it says why, with the words "Over 80 lines".

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layer of a module path's top-level module.
fn layer(module: &str) -> Option<usize> {
    let top = module.split("::").next().unwrap_or("");
    Some(match top {
        "error" | "names" => 0,
        "numerics" => 1,
        "formats" => 2,
        "backend" => 3,
        "train" => 4,
        "science" => 5,
        "pipelines" => 6,
        _ => return None,
    })
}

/// `src/a/b.rs` and `src/a/b/mod.rs` -> `a::b`.
fn module_of(rel: &str) -> String {
    let rel = rel.trim_end_matches(".rs");
    let rel = rel.strip_suffix("/mod").unwrap_or(rel);
    rel.replace('/', "::")
}

/// `text` with comments, string literals and char literals blanked to spaces, newlines kept: doc
/// links and messages do not count as imports, braces inside them do not count as blocks, and
/// line numbers stay those of the file.
fn mask(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to.min(b.len())] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let mut i = 0;
    while i < b.len() {
        let start = i;
        if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                i += 1;
            }
            i += 2;
        } else if b[i] == b'r' && matches!(b.get(i + 1), Some(b'#') | Some(b'"')) && {
            let j = i + 1 + b[i + 1..].iter().take_while(|&&c| c == b'#').count();
            b.get(j) == Some(&b'"')
        } {
            // Raw string r#"..."#: ends at a quote followed by as many hashes.
            let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
            i += 2 + hashes;
            while i < b.len()
                && !(b[i] == b'"' && b[i + 1..].iter().take(hashes).all(|&c| c == b'#'))
            {
                i += 1;
            }
            i += 1 + hashes;
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
        } else if b[i] == b'\'' && b.get(i + 1) == Some(&b'\\') {
            // Escaped char literal '\n', '\'', '\u{..}'.
            i += 2;
            while i < b.len() && b[i] != b'\'' {
                i += 1;
            }
            i += 1;
        } else if b[i] == b'\'' && b.get(i + 2) == Some(&b'\'') {
            i += 3;
        } else {
            i += 1;
            continue;
        }
        blank(&mut out, start, i);
    }
    out
}

/// Every path in `code` that starts at `crate`, `super` or one of `children` (the modules this
/// file declares), as absolute module paths (segments joined by `::`), expanding `{a, b::c}`
/// groups of `use` statements.
fn references(module: &str, is_mod_rs: bool, children: &[String], code: &str) -> Vec<String> {
    let parent = |m: &str| {
        m.rsplit_once("::")
            .map(|(p, _)| p.to_string())
            .unwrap_or_default()
    };
    // The module `super` names: the parent of a file's module.
    let super_of = parent(module);
    let here = if is_mod_rs {
        module.to_string()
    } else {
        parent(module)
    };
    let mut out = Vec::new();
    let tokens: Vec<char> = code.chars().collect();
    let inline = inline_module_depth(&tokens);
    let mut i = 0;
    while i < tokens.len() {
        let c = tokens[i];
        let at_word_start = i == 0
            || !(tokens[i - 1].is_alphanumeric() || tokens[i - 1] == '_' || tokens[i - 1] == ':');
        if !(at_word_start && (c.is_alphabetic() || c == '_')) {
            i += 1;
            continue;
        }
        let start = i;
        while i < tokens.len() && path_char(&tokens, start, i) {
            i += 1;
        }
        let path: String = tokens[start..i].iter().collect();
        for p in expand(path.trim()) {
            let mut segs: Vec<&str> = p.split("::").filter(|s| !s.is_empty()).collect();
            if segs.len() < 2 {
                continue;
            }
            match segs[0] {
                "crate" => out.push(segs[1..].join("::")),
                "super" => {
                    // Inside an inline `mod x { .. }`, `super` is the file's own module.
                    let mut b = if inline[start] > 0 {
                        module.to_string()
                    } else {
                        super_of.clone()
                    };
                    segs.remove(0);
                    while segs.first() == Some(&"super") {
                        b = parent(&b);
                        segs.remove(0);
                    }
                    out.push(join(&b, &segs));
                }
                first
                    if is_mod_rs && inline[start] == 0 && children.iter().any(|ch| ch == first) =>
                {
                    out.push(join(&here, &segs))
                }
                _ => {}
            }
        }
    }
    out
}

/// Whether `tokens[i]` continues the path that starts at `start`: identifier characters and
/// `::`, and inside a `{ .. }` group also commas and white space.
fn path_char(tokens: &[char], start: usize, i: usize) -> bool {
    let c = tokens[i];
    c.is_alphanumeric()
        || matches!(c, '_' | ':' | '{' | '}')
        || (matches!(c, ',' | ' ' | '\n' | '\t' | '\r') && in_group(tokens, start, i))
}

/// For every character, how many inline `mod name { .. }` blocks enclose it.
fn inline_module_depth(tokens: &[char]) -> Vec<usize> {
    let text: String = tokens.iter().collect();
    let mut depth = vec![0; tokens.len()];
    let mut search = 0;
    while let Some(k) = text[search..].find("mod ") {
        let at = search + k;
        search = at + 4;
        let rest = &text[at + 4..];
        let name_len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let after = rest[name_len..].trim_start();
        if name_len == 0 || !after.starts_with('{') {
            continue;
        }
        let open = text.len() - after.len();
        let mut d = 0;
        for (j, ch) in text[open..].char_indices() {
            match ch {
                '{' => d += 1,
                '}' => {
                    d -= 1;
                    if d == 0 {
                        for v in &mut depth[open..open + j] {
                            *v += 1;
                        }
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    depth
}

fn in_group(tokens: &[char], start: usize, i: usize) -> bool {
    let opened = tokens[start..i].iter().filter(|&&c| c == '{').count();
    let closed = tokens[start..i].iter().filter(|&&c| c == '}').count();
    opened > closed
}

fn join(base: &str, segs: &[&str]) -> String {
    let tail = segs.join("::");
    if base.is_empty() {
        tail
    } else {
        format!("{base}::{tail}")
    }
}

/// `a::{b, c::{d, e}}` -> `a::b`, `a::c::d`, `a::c::e`.
fn expand(path: &str) -> Vec<String> {
    let path: String = path.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = path.find('{') else {
        return vec![path];
    };
    let prefix = &path[..open];
    let mut depth = 0;
    let mut end = path.len();
    for (k, ch) in path.char_indices().skip(open) {
        match ch {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    end = k;
                    break;
                }
            }
            _ => {}
        }
    }
    let inner = &path[open + 1..end];
    let mut parts = Vec::new();
    let (mut d, mut cur) = (0, String::new());
    for ch in inner.chars() {
        match ch {
            '{' => {
                d += 1;
                cur.push(ch)
            }
            '}' => {
                d -= 1;
                cur.push(ch)
            }
            ',' if d == 0 => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(ch),
        }
    }
    parts.push(cur);
    parts
        .into_iter()
        .filter(|p| !p.is_empty() && p != "self")
        .flat_map(|p| expand(&format!("{prefix}{p}")))
        .collect()
}

/// The file-level import graph of a tree given as (path relative to `src/`, text).
fn graph(files: &[(String, String)]) -> BTreeMap<String, BTreeSet<String>> {
    let modules: BTreeSet<String> = files.iter().map(|(p, _)| module_of(p)).collect();
    // The longest module that is a prefix of a referenced path.
    let owner = |path: &str| -> Option<String> {
        let segs: Vec<&str> = path.split("::").collect();
        (1..=segs.len())
            .rev()
            .map(|n| segs[..n].join("::"))
            .find(|m| modules.contains(m))
    };
    let mut g = BTreeMap::new();
    for (rel, text) in files {
        let module = module_of(rel);
        let is_mod_rs = rel.ends_with("mod.rs");
        let children: Vec<String> = modules
            .iter()
            .filter_map(|m| m.strip_prefix(&format!("{module}::")))
            .filter(|rest| !rest.contains("::"))
            .map(str::to_string)
            .collect();
        let edges: BTreeSet<String> = references(
            &module,
            is_mod_rs,
            &children,
            &String::from_utf8(mask(text)).expect("masking keeps UTF-8"),
        )
        .iter()
        .filter_map(|r| owner(r))
        .filter(|t| *t != module)
        .collect();
        g.insert(module, edges);
    }
    g
}

/// A circle of files, if any (depth-first search).
fn find_cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                1 => {
                    let at = stack.iter().position(|s| s == m).expect("on stack");
                    let mut c = stack[at..].to_vec();
                    c.push(m.clone());
                    return Some(c);
                }
                0 => {
                    if let Some(c) = visit(m, g, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in g.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(n, g, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

/// Imports that point to a higher layer, as `from -> to`.
fn upward(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut bad = Vec::new();
    for (from, tos) in g {
        for to in tos {
            if let (Some(a), Some(b)) = (layer(from), layer(to)) {
                if b > a {
                    bad.push(format!("{from} -> {to}"));
                }
            }
        }
    }
    bad
}

/// The library's files (everything under `src/` but `lib.rs` and `bin/`).
fn library_files() -> Vec<(String, String)> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
        for e in std::fs::read_dir(dir).expect("read src") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "bin") {
                    walk(&p, root, out);
                }
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p.strip_prefix(root).expect("under src");
                let rel = rel.to_string_lossy().replace('\\', "/");
                if rel != "lib.rs" {
                    out.push((rel, std::fs::read_to_string(&p).expect("read")));
                }
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out.sort();
    out
}

#[test]
fn the_module_graph_has_no_circle() {
    let g = graph(&library_files());
    assert!(g.len() > 40, "only {} files read", g.len());
    if let Some(c) = find_cycle(&g) {
        panic!("import circle: {}", c.join(" -> "));
    }
}

#[test]
fn imports_point_down_the_layers() {
    let files = library_files();
    for (rel, _) in &files {
        assert!(
            layer(&module_of(rel)).is_some(),
            "{rel} is in no layer: add its folder to `layer`"
        );
    }
    let bad = upward(&graph(&files));
    assert!(bad.is_empty(), "imports that point up: {bad:#?}");
}

#[test]
fn the_checker_sees_real_edges() {
    // A sample of edges the tree must have, so a checker that reads nothing cannot pass.
    let g = graph(&library_files());
    for (from, to) in [
        ("train::trainer", "backend"),
        ("science::grokking::recorder", "train::driver"),
        ("pipelines::train", "science::grokking::recorder"),
        ("formats::weights", "numerics::network"),
        ("backend::cuda::launcher", "backend::cuda::kernels"),
    ] {
        assert!(
            g[from].contains(to),
            "{from} -> {to} missing: {:?}",
            g[from]
        );
    }
}

fn tree(files: &[(&str, &str)]) -> Vec<(String, String)> {
    files
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect()
}

#[test]
fn the_checker_finds_a_planted_circle() {
    let t = tree(&[
        ("numerics/a.rs", "use crate::numerics::b::B;\npub struct A;"),
        ("numerics/b.rs", "pub struct B(crate::numerics::c::C);"),
        ("numerics/c.rs", "use super::a::A; pub struct C;"),
        ("numerics/mod.rs", "pub mod a; pub mod b; pub mod c;"),
    ]);
    let c = find_cycle(&graph(&t)).expect("a circle");
    assert_eq!(c.first(), c.last());
    assert_eq!(c.len(), 4, "{c:?}");
}

#[test]
fn the_checker_finds_a_planted_upward_import_and_ignores_comments() {
    let t = tree(&[
        ("numerics/x.rs", "/// see [`crate::science::s`]\n// crate::train::t\nfn f() { let _ = \"crate::pipelines::p\"; crate::formats::f::g(); }"),
        ("formats/f.rs", "pub fn g() {}"),
        ("science/s.rs", ""),
        ("train/t.rs", ""),
        ("pipelines/p.rs", ""),
    ]);
    assert_eq!(upward(&graph(&t)), vec!["numerics::x -> formats::f"]);
}

#[test]
fn a_mod_rs_reexport_of_its_child_is_an_edge() {
    let t = tree(&[
        (
            "backend/mod.rs",
            "pub mod cpu;\npub use cpu::Cpu;\npub trait B {}",
        ),
        ("backend/cpu.rs", "use crate::backend::B; pub struct Cpu;"),
    ]);
    assert!(find_cycle(&graph(&t)).is_some());
}

// ---------------------------------------------------------------------------------------------
// Function length: no function body over LONG_FN lines unless the comment block above it says
// why with the words "Over 80 lines".

/// The limit of ARCHITECTURE.md's house rules ("no function over about 80 lines without a reason
/// written above it"); a function's length counts from its `fn` line to its closing brace.
const LONG_FN: usize = 80;

/// Each function of `text` longer than `limit` lines with no "Over 80 lines" reason in the
/// comment and attribute block above it, as (1-based line, name, lines).
fn long_functions(text: &str, limit: usize) -> Vec<(usize, String, usize)> {
    let m = mask(text);
    let lines: Vec<&str> = text.lines().collect();
    let line_of = |pos: usize| 1 + m[..pos].iter().filter(|&&c| c == b'\n').count();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut out = Vec::new();
    let mut i = 0;
    while i + 3 < m.len() {
        let is_fn = &m[i..i + 3] == b"fn " && (i == 0 || !ident(m[i - 1]));
        if !is_fn {
            i += 1;
            continue;
        }
        let name: String = m[i + 3..]
            .iter()
            .take_while(|&&c| ident(c))
            .map(|&c| c as char)
            .collect();
        // The body opens at the first `{` outside the signature's parentheses and brackets; a
        // `;` there first means a declaration without body (a trait method).
        let (mut j, mut nest, mut open) = (i + 3, 0i32, None);
        while j < m.len() {
            match m[j] {
                b'(' | b'[' | b'<' => nest += 1,
                b')' | b']' => nest -= 1,
                b'>' if m[j - 1] != b'-' && m[j - 1] != b'=' => nest -= 1,
                b';' if nest <= 0 => break,
                b'{' if nest <= 0 => {
                    open = Some(j);
                    break;
                }
                _ => {}
            }
            j += 1;
        }
        let Some(open) = open else {
            i = j;
            continue;
        };
        let (mut k, mut depth) = (open, 0i32);
        while k < m.len() {
            match m[k] {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            k += 1;
        }
        let (first, last) = (line_of(i), line_of(k.min(m.len() - 1)));
        let n = last - first + 1;
        if n > limit {
            // The block above: the fn line's own prefix (`pub`, `async`), then comments and
            // attributes going up to the first line that is neither.
            let reason = lines[..first - 1]
                .iter()
                .rev()
                .take_while(|l| {
                    let t = l.trim_start();
                    t.starts_with("//") || t.starts_with("#[")
                })
                .any(|l| l.contains("Over 80 lines"));
            if !reason {
                out.push((first, name, n));
            }
        }
        i += 3;
    }
    out
}

#[test]
fn no_long_function_without_a_written_reason() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).expect("read dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = vec![root.join("build.rs")];
    for d in ["src", "tests", "benches", "examples"] {
        walk(&root.join(d), &mut files);
    }
    assert!(files.len() > 60, "only {} files read", files.len());
    let mut long = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read");
        for (line, name, n) in long_functions(&text, LONG_FN) {
            let rel = f.strip_prefix(root).unwrap_or(f).display().to_string();
            long.push(format!("{rel}:{line} fn {name}: {n} lines"));
        }
    }
    assert!(
        long.is_empty(),
        "functions over {LONG_FN} lines with no \"Over 80 lines: why\" comment above them:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_length_checker_counts_bodies_and_reads_reasons() {
    let body = |name: &str, lines: usize| {
        format!(
            "fn {name}(a: [u8; 4], s: &str) -> Vec<u8> {{\n{}    vec![]\n}}\n",
            "    let _ = \"}\"; let _ = '{'; let _ = '\\''; // }\n".repeat(lines - 3)
        )
    };
    // 81 lines flagged, 80 not; a reason above (through an attribute) clears it; a trait method
    // without a body and braces in strings, chars and comments do not count.
    let text = format!(
        "trait T {{ fn decl(&self); }}\n{}{}/// Over 80 lines: a table.\n#[inline]\n{}",
        body("long", 81),
        body("fits", 80),
        body("explained", 95)
    );
    let got = long_functions(&text, LONG_FN);
    assert_eq!(got, vec![(2, "long".to_string(), 81)]);
}
