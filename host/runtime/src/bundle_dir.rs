//! Reading a bundle from a directory, or from one packed bundle file
//! (`eligo pack`), into the in-memory file map the core loads.
//!
//! A bundle whose `bundle.toml` says `extends = "<dir>"` is an overlay: the
//! base bundle's files (minus its tests) are read first, then this
//! directory's files replace or add to them. That is how a regional variant
//! differs from the default policy only in data.
//!
//! A bundle is closed: nothing outside its directory and the bundles it
//! extends is read. Symbolic links inside a bundle are refused (not
//! followed), and `extends` must name, by a relative path, a directory that
//! is itself a bundle (has a `bundle.toml`).

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use eligo_core::files::{has_extension, BUNDLE_EXTENSIONS, MAX_FILE_BYTES};
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
    Io {
        path: PathBuf,
        error: io::Error,
    },
    Bundle(Vec<eligo_core::Diagnostic>),
    Extends {
        path: PathBuf,
        message: String,
    },
    /// A link or path that would read outside the bundle.
    NotClosed {
        path: PathBuf,
        message: String,
    },
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
            ReadError::Extends { path, message } | ReadError::NotClosed { path, message } => {
                write!(f, "{}: {message}", path.display())
            }
        }
    }
}

/// Reads a bundle: a directory, or a packed bundle file.
pub fn read_bundle(path: &Path) -> Result<BundleFiles, ReadError> {
    if path.is_dir() {
        return read_bundle_dir(path);
    }
    // One byte over the core's limit is enough for it to refuse the file.
    let io_error = |error| ReadError::Io {
        path: path.to_path_buf(),
        error,
    };
    let mut bytes = Vec::new();
    fs::File::open(path)
        .and_then(|file| {
            file.take(eligo_core::api::MAX_PACKED_BYTES as u64 + 1)
                .read_to_end(&mut bytes)
        })
        .map_err(io_error)?;
    let text = if bytes.len() > eligo_core::api::MAX_PACKED_BYTES {
        // Cut anywhere: only its length matters now.
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        String::from_utf8(bytes)
            .map_err(|e| io_error(io::Error::new(io::ErrorKind::InvalidData, e)))?
    };
    eligo_core::api::unpack(&text).map_err(ReadError::Bundle)
}

/// Reads the bundle in `dir`, following `extends`.
pub fn read_bundle_dir(dir: &Path) -> Result<BundleFiles, ReadError> {
    let root = dir.canonicalize().map_err(|error| ReadError::Io {
        path: dir.to_path_buf(),
        error,
    })?;
    read_layered(&root, &mut vec![root.clone()])
}

/// `dir` is canonical; `chain` holds it and every bundle that extends it.
fn read_layered(dir: &Path, chain: &mut Vec<PathBuf>) -> Result<BundleFiles, ReadError> {
    let own = read_own_files(dir)?;
    let Some(base_dir) = extends_of(dir)? else {
        return pairs_to_files(own);
    };
    if chain.contains(&base_dir) {
        return Err(ReadError::Extends {
            path: dir.join("bundle.toml"),
            message: format!(
                "`extends` makes a loop: {} extends a bundle that extends it",
                base_dir.display()
            ),
        });
    }
    if chain.len() > MAX_EXTENDS {
        return Err(ReadError::Extends {
            path: dir.join("bundle.toml"),
            message: format!("`extends` chains more than {MAX_EXTENDS} bundles deep"),
        });
    }
    chain.push(base_dir.clone());
    let base = read_layered(&base_dir, chain)?;
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

/// The bundle directory named by `extends` in `dir/bundle.toml`, if any,
/// canonical: a relative path to a directory with a `bundle.toml`.
fn extends_of(dir: &Path) -> Result<Option<PathBuf>, ReadError> {
    let manifest_path = dir.join("bundle.toml");
    let Ok(text) = fs::read_to_string(&manifest_path) else {
        // A missing manifest is reported by the core with the other problems.
        return Ok(None);
    };
    let Ok(table) = text.parse::<toml::Table>() else {
        return Ok(None);
    };
    let refuse = |message: String| ReadError::Extends {
        path: manifest_path.clone(),
        message,
    };
    let base = match table.get("extends") {
        None => return Ok(None),
        Some(toml::Value::String(base)) => base,
        Some(_) => {
            return Err(refuse(
                "`extends` must be a directory path string".to_string(),
            ))
        }
    };
    if base.is_empty() || Path::new(base).has_root() || base.contains(['\\', ':', '\0']) {
        return Err(refuse(format!(
            "`extends = {base:?}` must be a relative path with `/` to the base bundle's directory"
        )));
    }
    let base_dir = dir.join(base).canonicalize().map_err(|error| {
        refuse(format!(
            "`extends = {base:?}`: cannot open that directory: {error}"
        ))
    })?;
    let base_manifest = base_dir.join("bundle.toml");
    let is_bundle = fs::symlink_metadata(&base_manifest).is_ok_and(|m| m.file_type().is_file());
    if !base_dir.is_dir() || !is_bundle {
        return Err(refuse(format!(
            "`extends = {base:?}` is not a bundle: {} has no bundle.toml",
            base_dir.display()
        )));
    }
    Ok(Some(base_dir))
}

/// Refuses a symbolic link where a bundle file or folder would be read.
fn not_a_link(path: &Path, file_type: fs::FileType) -> Result<(), ReadError> {
    if file_type.is_symlink() {
        return Err(ReadError::NotClosed {
            path: path.to_path_buf(),
            message: "is a symbolic link; a bundle is closed (nothing outside its directory is \
                      read), so copy the file into the bundle instead"
                .to_string(),
        });
    }
    Ok(())
}

/// This directory's own bundle files, as (relative path, bytes).
fn read_own_files(dir: &Path) -> Result<Vec<(String, Vec<u8>)>, ReadError> {
    let mut files = Vec::new();
    collect(dir, "", BUNDLE_EXTENSIONS, &mut files)?;
    for (folder, extensions) in FOLDERS {
        let path = dir.join(folder);
        let Ok(metadata) = fs::symlink_metadata(&path) else {
            continue;
        };
        not_a_link(&path, metadata.file_type())?;
        if metadata.is_dir() {
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
        if name.starts_with('.') || !has_extension(&name, extensions) {
            continue;
        }
        let file_type = entry.file_type().map_err(|e| io_error(&path, e))?;
        not_a_link(&path, file_type)?;
        if file_type.is_file() {
            paths.push((name, path));
        }
    }
    paths.sort();
    for (name, path) in paths {
        // One byte over the core's limit is enough for it to refuse the
        // file: a 200 MB file is not read into memory to be refused.
        let mut bytes = Vec::new();
        fs::File::open(&path)
            .and_then(|file| file.take(MAX_FILE_BYTES as u64 + 1).read_to_end(&mut bytes))
            .map_err(|e| io_error(&path, e))?;
        let relative = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        out.push((relative, bytes));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "name = \"t\"\nversion = \"1\"\nlanguages = [\"en\"]\n";

    fn bundle(dir: &Path, manifest_extra: &str) {
        fs::create_dir_all(dir.join("params")).unwrap();
        fs::write(
            dir.join("bundle.toml"),
            format!("{MANIFEST}{manifest_extra}"),
        )
        .unwrap();
        fs::write(dir.join("params/a.toml"), "x = 1\n").unwrap();
    }

    fn refused(dir: &Path) -> String {
        read_bundle_dir(dir).unwrap_err().to_string()
    }

    #[cfg(unix)]
    #[test]
    fn symbolic_links_are_refused_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside.rhai");
        fs::write(&outside, "secret").unwrap();
        let dir = tmp.path().join("b");
        bundle(&dir, "");
        std::os::unix::fs::symlink(&outside, dir.join("rules.rhai")).unwrap();
        let message = refused(&dir);
        assert!(
            message.contains("rules.rhai: is a symbolic link"),
            "{message}"
        );

        let dir = tmp.path().join("c");
        bundle(&dir, "");
        fs::create_dir_all(tmp.path().join("elsewhere")).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("elsewhere"), dir.join("tests")).unwrap();
        assert!(refused(&dir).contains("tests: is a symbolic link"));

        // A link that is not a bundle file is none of the bundle's business.
        let dir = tmp.path().join("d");
        bundle(&dir, "");
        std::os::unix::fs::symlink(&outside, dir.join("README.md")).unwrap();
        assert!(read_bundle_dir(&dir).is_ok());
    }

    #[test]
    fn extends_must_name_a_bundle_by_a_relative_path() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("v");
        bundle(&dir, "extends = \"/etc\"\n");
        assert!(
            refused(&dir).contains("must be a relative path"),
            "{}",
            refused(&dir)
        );
        bundle(&dir, "extends = \"../plain\"\n");
        fs::create_dir_all(tmp.path().join("plain")).unwrap();
        assert!(
            refused(&dir).contains("is not a bundle"),
            "{}",
            refused(&dir)
        );
        bundle(&dir, "extends = \"../missing\"\n");
        assert!(refused(&dir).contains("cannot open"), "{}", refused(&dir));

        let base = tmp.path().join("base");
        bundle(&base, "extends = \"../v\"\n");
        bundle(&dir, "extends = \"../base\"\n");
        assert!(refused(&dir).contains("loop"), "{}", refused(&dir));

        bundle(&base, "");
        fs::write(base.join("params/b.toml"), "y = 2\n").unwrap();
        let files = read_bundle_dir(&dir).unwrap();
        assert_eq!(files.get("params/b.toml"), Some("y = 2\n"));
    }
}
