//! Reading a bundle from a directory, or from one packed bundle file
//! (`eligo pack`), into the in-memory file map the core loads.
//!
//! A bundle whose `bundle.toml` says `extends = "<dir>"` is an overlay: the
//! base bundle's files (minus its tests) are read first, then this
//! directory's files replace or add to them. That is how a regional variant
//! differs from the default policy only in data.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use eligo_core::files::{has_extension, BUNDLE_EXTENSIONS};
use eligo_core::BundleFiles;

/// Folders of a bundle, each with the file kinds it holds. Top-level files
/// are read too; any other folder (such as `variants/`) is not part of it.
const FOLDERS: &[(&str, &[&str])] = &[
    ("params", &["toml"]),
    ("schema", &["toml", "json"]),
    ("messages", &["toml"]),
    ("tests", &["yaml", "yml"]),
];

/// How deep `extends` may chain before it is taken for a loop.
const MAX_EXTENDS: usize = 8;

/// Why a bundle directory could not be read.
#[derive(Debug)]
pub enum ReadError {
    Io { path: PathBuf, error: io::Error },
    Bundle(Vec<eligo_core::Diagnostic>),
    Extends { path: PathBuf, message: String },
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Io { path, error } => write!(f, "cannot read {}: {error}", path.display()),
            ReadError::Bundle(problems) => {
                for problem in problems {
                    writeln!(f, "{problem}")?;
                }
                Ok(())
            }
            ReadError::Extends { path, message } => write!(f, "{}: {message}", path.display()),
        }
    }
}

/// Reads a bundle: a directory, or a packed bundle file.
pub fn read_bundle(path: &Path) -> Result<BundleFiles, ReadError> {
    if path.is_dir() {
        return read_bundle_dir(path);
    }
    let text = fs::read_to_string(path).map_err(|error| ReadError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    eligo_core::api::unpack(&text).map_err(ReadError::Bundle)
}

/// Reads the bundle in `dir`, following `extends`.
pub fn read_bundle_dir(dir: &Path) -> Result<BundleFiles, ReadError> {
    read_layered(dir, 0)
}

fn read_layered(dir: &Path, depth: usize) -> Result<BundleFiles, ReadError> {
    let own = read_own_files(dir)?;
    let Some(base_dir) = extends_of(dir)? else {
        return pairs_to_files(own);
    };
    if depth >= MAX_EXTENDS {
        return Err(ReadError::Extends {
            path: dir.to_path_buf(),
            message: format!("`extends` chains more than {MAX_EXTENDS} bundles deep (a loop?)"),
        });
    }
    let base = read_layered(&base_dir, depth + 1)?;
    let mut merged: Vec<(String, Vec<u8>)> = base
        .iter()
        .filter(|(path, _)| !path.starts_with("tests/"))
        .map(|(path, text)| (path.to_string(), text.as_bytes().to_vec()))
        .collect();
    merged.retain(|(path, _)| !own.iter().any(|(own_path, _)| own_path == path));
    merged.extend(own);
    pairs_to_files(merged)
}

fn pairs_to_files(pairs: Vec<(String, Vec<u8>)>) -> Result<BundleFiles, ReadError> {
    BundleFiles::from_pairs(pairs).map_err(ReadError::Bundle)
}

/// The directory named by `extends` in `dir/bundle.toml`, if any.
fn extends_of(dir: &Path) -> Result<Option<PathBuf>, ReadError> {
    let manifest_path = dir.join("bundle.toml");
    let Ok(text) = fs::read_to_string(&manifest_path) else {
        // A missing manifest is reported by the core with the other problems.
        return Ok(None);
    };
    let Ok(table) = text.parse::<toml::Table>() else {
        return Ok(None);
    };
    match table.get("extends") {
        None => Ok(None),
        Some(toml::Value::String(base)) => Ok(Some(dir.join(base))),
        Some(_) => Err(ReadError::Extends {
            path: manifest_path,
            message: "`extends` must be a directory path string".to_string(),
        }),
    }
}

/// This directory's own bundle files, as (relative path, bytes).
fn read_own_files(dir: &Path) -> Result<Vec<(String, Vec<u8>)>, ReadError> {
    let mut files = Vec::new();
    collect(dir, "", BUNDLE_EXTENSIONS, &mut files)?;
    for (folder, extensions) in FOLDERS {
        let path = dir.join(folder);
        if path.is_dir() {
            collect(&path, folder, extensions, &mut files)?;
        }
    }
    Ok(files)
}

fn collect(
    dir: &Path,
    prefix: &str,
    extensions: &[&str],
    out: &mut Vec<(String, Vec<u8>)>,
) -> Result<(), ReadError> {
    let io_error = |path: &Path, error| ReadError::Io {
        path: path.to_path_buf(),
        error,
    };
    let entries = fs::read_dir(dir).map_err(|e| io_error(dir, e))?;
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_error(dir, e))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_file() && !name.starts_with('.') && has_extension(&name, extensions) {
            paths.push((name, path));
        }
    }
    paths.sort();
    for (name, path) in paths {
        let bytes = fs::read(&path).map_err(|e| io_error(&path, e))?;
        let relative = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        out.push((relative, bytes));
    }
    Ok(())
}
