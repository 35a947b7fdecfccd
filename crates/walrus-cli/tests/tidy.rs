//! House rules checked as a test (in the spirit of rust-analyzer's tidy): module docs in every
//! file, crate dependencies that only point down the layer order, no I/O, clock or global RNG
//! in the deterministic crates, no stubs, and files short enough to read.

use std::path::{Path, PathBuf};

/// The layer order of DESIGN.md section 3: a crate may depend only on crates listed before it.
const LAYERS: &[&str] = &[
    "walrus-blake2b",
    "walrus-core",
    "walrus-seal",
    "walrus-tls",
    "walrus-chain",
    "walrus-chain-client",
    "walrus-node-client",
    "walrus-http",
    "walrus-keyserver",
    "walrus-consensus",
    "walrus-chain-node",
    "walrus-store",
    "walrus-node",
    "walrus-sdk",
    "walrus-gateway",
    "walrus-cli",
];
/// What a crate must never link, even through other crates (normal dependencies, checked with
/// `cargo tree`): clients link no server, store or sequencer; the gateway serves HTTP but
/// links no node, chain host or database.
const NEVER_LINKED: &[(&str, &[&str])] = &[
    ("walrus-chain-client", CLIENT_NEVER_LINKS),
    ("walrus-node-client", CLIENT_NEVER_LINKS),
    ("walrus-sdk", CLIENT_NEVER_LINKS),
    ("walrus-gateway", &["fjall", "walrus-chain-node", "walrus-store", "walrus-node"]),
];
const CLIENT_NEVER_LINKS: &[&str] =
    &["axum", "fjall", "walrus-http", "walrus-consensus", "walrus-chain-node", "walrus-store", "walrus-node"];
/// Crates that may only ever be dev-dependencies.
const DEV_ONLY: &[&str] = &["walrus-testkit"];
/// Crates whose library code must be deterministic and free of I/O.
const PURE: &[&str] = &["walrus-blake2b", "walrus-core", "walrus-seal", "walrus-chain"];
/// The one crate allowed `unsafe` code (SIMD intrinsics behind run-time CPU detection).
const UNSAFE_ALLOWED: &str = "walrus-blake2b";
/// Files outside that crate allowed one FFI call each, with the reason.
const UNSAFE_EXCEPTIONS: &[(&str, &str)] =
    &[("walrus-cli/src/main.rs", "sets the allocator's purge delay (mi_option_set)")];
/// Things a pure crate's `src/` must not mention.
const IMPURE: &[&str] = &[
    "std::fs",
    "std::net",
    "std::process",
    "std::env",
    "SystemTime",
    "Instant::now",
    "thread_rng",
    "rand::random",
    "OsRng",
    "tokio",
    "HashMap",
    "HashSet",
];
/// Longest source file, in lines (STYLE.md: split files past ~800 lines).
const FILE_LINES_MAX: usize = 800;

fn workspace_root() -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root exists")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "target" && n != "node_modules") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn crate_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(workspace_root().join("crates"))
        .expect("crates dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("Cargo.toml").exists())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn every_rust_file_starts_with_module_docs() {
    let mut files = Vec::new();
    rust_files(&workspace_root().join("crates"), &mut files);
    assert!(!files.is_empty());
    let missing: Vec<_> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            !text.lines().find(|l| !l.trim().is_empty()).is_some_and(|l| l.starts_with("//!"))
        })
        .collect();
    assert!(missing.is_empty(), "files without a leading `//!` paragraph: {missing:#?}");
}

#[test]
fn files_stay_short_and_free_of_stubs() {
    let mut files = Vec::new();
    rust_files(&workspace_root().join("crates"), &mut files);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let lines = text.lines().count();
        assert!(lines <= FILE_LINES_MAX, "{} has {lines} lines; split it by concern", file.display());
        if file.components().any(|c| c.as_os_str() == "src") {
            for stub in ["todo!(", "unimplemented!("] {
                assert!(!text.contains(stub), "{} contains {stub}", file.display());
            }
            // Decisions on a node's refusal use `walrus_node_client::Reason`, never its text.
            for compare in ["reason == \"", "reason() == Some(\""] {
                assert!(!text.contains(compare), "{} compares a reason string: {compare}", file.display());
            }
        }
    }
}

/// The node's refusals are `walrus_node::service::ServiceError`s, given a status and a reason
/// code in one place (`api::http`); no other file of the node picks a reason code.
#[test]
fn the_node_picks_reason_codes_in_one_place() {
    let mut files = Vec::new();
    rust_files(&workspace_root().join("crates/walrus-node/src"), &mut files);
    assert!(files.iter().any(|f| f.ends_with("service.rs")), "no node sources under {files:?}");
    for file in files.iter().filter(|f| !f.ends_with("api.rs")) {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        assert!(!text.contains("Reason::"), "{} picks a reason code; return a ServiceError", file.display());
    }
}

/// Every HTTP client comes from `walrus_tls::http_client` (which installs the TLS crypto
/// provider first: a client built without one panics), in tests too.
#[test]
fn http_clients_are_built_in_one_place() {
    let mut files = Vec::new();
    rust_files(&workspace_root().join("crates"), &mut files);
    let own = Path::new(file!()).file_name().expect("this file");
    for file in files
        .iter()
        .filter(|f| !f.starts_with(workspace_root().join("crates/walrus-tls")) && !f.ends_with(own))
    {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for builder in [
            "reqwest::Client::new(",
            "reqwest::Client::builder(",
            "reqwest::Client::default(",
            "Client::builder()",
        ] {
            assert!(
                !text.contains(builder),
                "{} builds an HTTP client with {builder}; use walrus_tls::http_client()",
                file.display()
            );
        }
    }
}

/// The `walrus-*` crates named in one `[...dependencies]` table of a manifest.
fn walrus_deps(manifest: &str, dev: bool) -> Vec<String> {
    let mut deps = Vec::new();
    let mut in_table = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            let table = line.trim_matches(|c| c == '[' || c == ']');
            in_table = if dev {
                table == "dev-dependencies"
            } else {
                table == "dependencies" || table == "build-dependencies"
            };
            continue;
        }
        if in_table {
            if let Some(name) = line.split(['=', '.', ' ']).next().filter(|n| n.starts_with("walrus-")) {
                deps.push(name.to_string());
            }
        }
    }
    deps
}

#[test]
fn crate_dependencies_point_down() {
    for dir in crate_dirs() {
        let name = dir.file_name().expect("dir name").to_string_lossy().to_string();
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("manifest");
        let rank = LAYERS.iter().position(|l| *l == name);
        for dep in walrus_deps(&manifest, false) {
            assert!(
                !DEV_ONLY.contains(&dep.as_str()),
                "{name} depends on {dep}, which may only be a dev-dependency"
            );
            let dep_rank = LAYERS.iter().position(|l| *l == dep);
            match (rank, dep_rank) {
                (Some(r), Some(d)) => assert!(d < r, "{name} depends on {dep}, which is not below it"),
                // A dev-only crate sits above every layer and may use any of them.
                (None, Some(_)) if DEV_ONLY.contains(&name.as_str()) => {}
                _ => panic!("{name} -> {dep}: add both crates to LAYERS (or DEV_ONLY) in this test"),
            }
        }
    }
}

#[test]
fn pure_crates_do_no_io_and_read_no_clock() {
    for name in PURE {
        let mut files = Vec::new();
        rust_files(&workspace_root().join("crates").join(name).join("src"), &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            // Only library code counts; unit tests at the bottom of a file may use anything.
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for word in IMPURE {
                assert!(
                    !code.contains(word),
                    "{} mentions `{word}`, which a pure crate must not use",
                    file.display()
                );
            }
        }
    }
}

#[test]
fn unsafe_code_stays_in_its_one_crate() {
    for dir in crate_dirs() {
        let name = dir.file_name().expect("dir name").to_string_lossy().to_string();
        let mut files = Vec::new();
        rust_files(&dir, &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            // Spelled in two parts so that this file does not match itself.
            if text.contains(concat!("allow(", "unsafe_code)")) {
                let excepted = UNSAFE_EXCEPTIONS.iter().any(|(path, _)| file.ends_with(path));
                assert!(name == UNSAFE_ALLOWED || excepted, "{} allows unsafe code", file.display());
            }
        }
    }
}

#[test]
fn clients_and_the_gateway_link_no_server() {
    for (krate, forbidden) in NEVER_LINKED {
        let output = std::process::Command::new(env!("CARGO"))
            .current_dir(workspace_root())
            .args(["tree", "--offline", "-e", "normal", "--prefix", "none", "--format", "{p}", "-p", krate])
            .output()
            .expect("cargo tree runs");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "cargo tree -p {krate}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let linked: Vec<&str> = text.lines().filter_map(|line| line.split_whitespace().next()).collect();
        assert!(linked.contains(krate), "cargo tree -p {krate} printed no tree: {text}");
        for name in linked {
            assert!(!forbidden.contains(&name), "{krate} links {name} (see NEVER_LINKED)");
        }
    }
}

#[test]
fn libraries_return_typed_errors() {
    // `anyhow` is for the binary (and test helpers); a library names its errors (thiserror).
    for dir in crate_dirs() {
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        if name == "walrus-cli" || DEV_ONLY.contains(&name.as_str()) {
            continue;
        }
        let mut files = Vec::new();
        rust_files(&dir.join("src"), &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            assert!(!text.contains("anyhow"), "{} uses anyhow; give it a thiserror enum", file.display());
        }
    }
}
