//! Test inputs the differential tests share: every fixture and fuzz seed of
//! the repository, in one stable order (sorted paths), so each test reads
//! the same set, and the escaped-colon variant of a text.

use std::path::{Path, PathBuf};

/// Every file under `tests/fixtures` and `fuzz/seeds/text`, sorted.
pub(crate) fn fixtures_and_seeds() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut paths = Vec::new();
    files(&root.join("tests/fixtures"), &mut paths);
    files(&root.join("fuzz/seeds/text"), &mut paths);
    paths.sort();
    paths
}

/// `text` as prometheus_client writes it for OpenMetrics: colons in sample
/// names escaped to `_`, kept on `#` lines (`# TYPE`, `# HELP`), so sample
/// names and their families part ways. Every line ends in a newline.
pub(crate) fn escape_colons(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.starts_with('#') {
                format!("{l}\n")
            } else {
                let cut = l.find(['{', ' ']).unwrap_or(l.len());
                format!("{}{}\n", l[..cut].replace(':', "_"), &l[cut..])
            }
        })
        .collect()
}

/// Every file under `dir`, recursively.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}
