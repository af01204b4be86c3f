//! The import graph is a stack of layers: each top-level module imports only modules of lower
//! layers, so the crate has no cycles and each layer can be read without those above it.
//! (The crate root, `lib.rs`, is the facade over all of them.)

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Lowest first; modules on one line share a layer and may not import each other.
const LAYERS: &[&[&str]] = &[
    &["linalg", "scratch", "test_skip"],
    &["io"],
    &["image"],
    &["figures"],
    &["data"],
    &["error"],
    &["interrupt"],
    &["optim"],
    &["model"],
    &["interaction"],
    &["decomp"],
    &["metrics"],
    &["analysis"],
    &["pipeline"],
    &["report"],
    &["study"],
    &["cli"],
];

fn layer(module: &str) -> usize {
    LAYERS.iter().position(|l| l.contains(&module)).unwrap_or_else(|| panic!("module `{module}` is in no layer: add it to LAYERS"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `crate::name` paths in code (comments left out).
fn imports(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let name: String = rest[at + 7..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            out.insert(name);
            rest = &rest[at + 7..];
        }
        // `use crate::{a, b}` groups.
        if let Some(at) = code.find("crate::{") {
            for part in code[at + 8..].split([',', '}']) {
                let name: String = part.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        }
    }
    out
}

#[test]
fn modules_import_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let module = match rel.components().next().unwrap().as_os_str().to_str().unwrap() {
            "lib.rs" | "main.rs" => continue,
            name => name.trim_end_matches(".rs").to_string(),
        };
        let own = layer(&module);
        for import in imports(&std::fs::read_to_string(file).unwrap()) {
            if import == module {
                continue;
            }
            if layer(&import) >= own {
                violations.push(format!("{} (layer {own}) imports crate::{import} (layer {})", rel.display(), layer(&import)));
            }
        }
    }
    assert!(violations.is_empty(), "imports against the layering:\n  {}", violations.join("\n  "));
}
