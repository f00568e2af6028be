//! The files of a bundle as an in-memory map, and the bundle hash.
//!
//! The hash is sha256 over a canonical serialisation: files sorted by their
//! `/`-separated relative path, each text normalised (UTF-8 byte-order mark
//! dropped, CRLF and lone CR → LF) so a checkout on any OS hashes the same.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use crate::diagnostics::Diagnostic;

/// The kinds of file a bundle is made of; anything else is not part of it.
pub const BUNDLE_EXTENSIONS: &[&str] = &["toml", "rhai", "yaml", "yml", "json"];

/// The largest file a bundle may hold. The biggest file of the default
/// bundle is 12 KB; a parameter table of every district of a province
/// stays far below this. Counted here, in every runtime.
pub const MAX_FILE_BYTES: usize = 1 << 20;

/// The most all files of a bundle may hold together. Set so that a bundle
/// that loads natively loads alike in the wasm artifact, well within its
/// memory and its host's deadline: 4 MiB of parameters (45,000 of them)
/// load in 1.5 s in the artifact; 16 MiB took over 5 s.
pub const MAX_BUNDLE_BYTES: usize = 4 << 20;

/// A bundle's files: normalised relative path → normalised UTF-8 text.
#[derive(Debug, Clone, Default)]
pub struct BundleFiles {
    files: BTreeMap<String, String>,
    /// [`BundleFiles::hash`], once asked for; forgotten on every insert.
    /// Loading a packed bundle asks twice (to check the hash it claims, and
    /// for the bundle); a profiled cold load in Node spent 11.6 ms in one
    /// sha256 over the default bundle's 79 KB.
    hash: OnceLock<String>,
}

impl PartialEq for BundleFiles {
    fn eq(&self, other: &Self) -> bool {
        self.files == other.files
    }
}

impl Eq for BundleFiles {}

impl BundleFiles {
    /// No files.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a file map from (path, bytes) pairs, reporting every bad file.
    /// Two names for one file (`params/a.toml` and `params\a.toml`, or
    /// `./a.toml` and `a.toml`) are refused: which would win is not the
    /// author's choice to leave to the order of a listing.
    pub fn from_pairs<P: AsRef<str>, B: AsRef<[u8]>>(
        pairs: impl IntoIterator<Item = (P, B)>,
    ) -> Result<Self, Vec<Diagnostic>> {
        let mut files = BundleFiles::new();
        let mut problems = Vec::new();
        let mut given: BTreeMap<String, String> = BTreeMap::new();
        for (path, bytes) in pairs {
            let path = path.as_ref();
            if let Ok(normal) = normalise_path(path) {
                if let Some(first) = given.insert(normal.clone(), path.to_string()) {
                    problems.push(Diagnostic::file_error(
                        "file-path",
                        path,
                        format!("names the same file as `{first}` (both are `{normal}`)"),
                    ));
                    continue;
                }
            }
            if let Err(problem) = files.insert(path, bytes.as_ref()) {
                problems.push(problem);
            }
        }
        if problems.is_empty() {
            Ok(files)
        } else {
            Err(problems)
        }
    }

    /// Adds (or replaces) one file. The path must be relative, use `/`, and
    /// not climb out of the bundle; the content must be UTF-8.
    pub fn insert(&mut self, path: &str, bytes: &[u8]) -> Result<(), Diagnostic> {
        let path = normalise_path(path)?;
        if bytes.len() > MAX_FILE_BYTES {
            return Err(Diagnostic::file_error(
                "file-size",
                &path,
                format!("is over 1 MiB ({MAX_FILE_BYTES} bytes), the most a bundle file may hold"),
            ));
        }
        let text = std::str::from_utf8(bytes).map_err(|e| {
            Diagnostic::file_error(
                "file-encoding",
                &path,
                format!(
                    "is not UTF-8 text (invalid byte at offset {})",
                    e.valid_up_to()
                ),
            )
        })?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        // CRLF and lone CR (old Mac files) both end a line: parsers that
        // only count LF put every diagnostic of a CR-only file on line 1.
        self.files
            .insert(path, text.replace("\r\n", "\n").replace('\r', "\n"));
        self.hash = OnceLock::new();
        Ok(())
    }

    /// A file's text by its normalised path.
    pub fn get(&self, path: &str) -> Option<&str> {
        self.files.get(path).map(String::as_str)
    }

    /// Files in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.iter().map(|(p, t)| (p.as_str(), t.as_str()))
    }

    /// Files directly inside `folder` (e.g. `params`) with one of `extensions`.
    pub fn in_folder<'a>(
        &'a self,
        folder: &'a str,
        extensions: &'a [&'a str],
    ) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.iter()
            .filter(move |(path, _)| is_directly_in(path, folder, extensions))
    }

    /// How many files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// The bytes of every file together.
    pub fn total_bytes(&self) -> usize {
        self.files.values().map(String::len).sum()
    }

    /// No files at all.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// `sha256:<hex>` over the canonical serialisation of every file.
    pub fn hash(&self) -> String {
        self.hash.get_or_init(|| self.compute_hash()).clone()
    }

    fn compute_hash(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(b"eligo-bundle-v1\n");
        for (path, text) in &self.files {
            // Length-prefixed so no two different file sets serialise alike.
            hasher.update((path.len() as u64).to_le_bytes());
            hasher.update(path.as_bytes());
            hasher.update((text.len() as u64).to_le_bytes());
            hasher.update(text.as_bytes());
        }
        format!("sha256:{}", hex::encode(hasher.finalize()))
    }
}

/// Whether `path` is a file directly inside `folder` with one of `extensions`.
pub fn is_directly_in(path: &str, folder: &str, extensions: &[&str]) -> bool {
    path.strip_prefix(folder)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|name| !name.contains('/') && has_extension(name, extensions))
}

/// Whether a file name ends in one of the extensions.
pub fn has_extension(name: &str, extensions: &[&str]) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(_, ext)| extensions.contains(&ext))
}

fn normalise_path(path: &str) -> Result<String, Diagnostic> {
    let unified = path.replace('\\', "/");
    let parts: Vec<&str> = unified
        .split('/')
        .filter(|part| !part.is_empty() && *part != ".")
        .collect();
    let bad = parts.is_empty() || parts.contains(&"..") || unified.starts_with('/');
    if bad {
        return Err(Diagnostic::file_error(
            "file-path",
            path,
            "bundle file paths must be relative and stay inside the bundle",
        ));
    }
    // NUL ends a name at the OS boundary; other control characters and a
    // drive prefix (`C:`) make a name mean different files on different systems.
    if let Some(c) = path.chars().find(|c| c.is_control() || *c == ':') {
        return Err(Diagnostic::file_error(
            "file-path",
            path.escape_debug().to_string(),
            format!(
                "bundle file names may not contain {:?}: use letters, digits, `-`, `_`, `.` and `/`",
                c
            ),
        ));
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_remembered_hash_is_forgotten_when_a_file_changes() {
        let mut files = BundleFiles::from_pairs([("a.toml", "x = 1\n")]).unwrap();
        let before = files.hash();
        assert_eq!(files.hash(), before);
        files.insert("a.toml", b"x = 2\n").unwrap();
        let fresh = BundleFiles::from_pairs([("a.toml", "x = 2\n")]).unwrap();
        assert_ne!(files.hash(), before);
        assert_eq!(files.hash(), fresh.compute_hash());
        files.insert("b.toml", b"y = 1\n").unwrap();
        assert_eq!(files.hash(), files.compute_hash());
        assert_ne!(files.hash(), fresh.hash());
    }

    #[test]
    fn hash_ignores_line_endings_bom_and_path_separators() {
        let unix = BundleFiles::from_pairs([("a/b.toml", "x = 1\ny = 2\n")]).unwrap();
        let windows =
            BundleFiles::from_pairs([("a\\b.toml", "\u{feff}x = 1\r\ny = 2\r\n")]).unwrap();
        assert_eq!(unix.hash(), windows.hash());
        let old_mac = BundleFiles::from_pairs([("a/b.toml", "x = 1\ry = 2\r")]).unwrap();
        assert_eq!(unix.hash(), old_mac.hash());
        assert!(unix.hash().starts_with("sha256:"));
    }

    #[test]
    fn hash_changes_with_content_and_names() {
        let a = BundleFiles::from_pairs([("a.toml", "x = 1")]).unwrap();
        let b = BundleFiles::from_pairs([("a.toml", "x = 2")]).unwrap();
        let c = BundleFiles::from_pairs([("b.toml", "x = 1")]).unwrap();
        // Moving bytes between the name and the content must not collide.
        let d = BundleFiles::from_pairs([("a.tomlx", " = 1")]).unwrap();
        let hashes = [a.hash(), b.hash(), c.hash(), d.hash()];
        for i in 0..hashes.len() {
            for j in i + 1..hashes.len() {
                assert_ne!(hashes[i], hashes[j]);
            }
        }
    }

    #[test]
    fn paths_may_not_escape() {
        assert!(BundleFiles::from_pairs([("../x.toml", "")]).is_err());
        assert!(BundleFiles::from_pairs([("/etc/x.toml", "")]).is_err());
        assert!(BundleFiles::from_pairs([("x.toml", [0xff, 0xfe])]).is_err());
    }

    #[test]
    fn two_names_for_one_file_and_control_characters_are_refused() {
        let twice =
            BundleFiles::from_pairs([("params/a.toml", "x = 1"), ("params\\a.toml", "x = 2")])
                .unwrap_err();
        assert_eq!(twice.len(), 1);
        assert!(twice[0].to_string().contains("same file"), "{}", twice[0]);
        assert!(BundleFiles::from_pairs([("./a.toml", ""), ("a.toml", "")]).is_err());
        let nul = BundleFiles::from_pairs([("a\0b.toml", "")]).unwrap_err();
        assert!(nul[0].to_string().contains("may not contain"), "{}", nul[0]);
        assert!(BundleFiles::from_pairs([("C:/a.toml", "")]).is_err());
    }

    #[test]
    fn folder_listing_is_shallow_and_filtered() {
        let files = BundleFiles::from_pairs([
            ("params/a.toml", ""),
            ("params/sub/b.toml", ""),
            ("params/notes.txt", ""),
            ("paramsx/c.toml", ""),
        ])
        .unwrap();
        let names: Vec<_> = files
            .in_folder("params", &["toml"])
            .map(|(p, _)| p)
            .collect();
        assert_eq!(names, ["params/a.toml"]);
    }
}
