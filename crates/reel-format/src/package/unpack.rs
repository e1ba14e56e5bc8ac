//! Safe extraction: no entry may leave the target folder (`..`, absolute paths, drive letters,
//! backslashes, symlinks), every size cap holds, every checksum is checked, and nothing is left
//! behind on failure (extraction goes to a temporary folder renamed into place at the end).
use super::PackageReader;
use crate::{Error, Limits, Result};
use sha2::{Digest, Sha256};
use std::io::{Read, Seek, Write};
use std::path::{Component, Path};

/// Refuse entry names that could escape the target folder.
pub fn check_entry_path(name: &str) -> Result<()> {
    let bad = |m: &str| {
        Err(Error::UnsafePath {
            entry: name.to_string(),
            message: m.into(),
        })
    };
    if name.is_empty() || name.contains('\0') {
        return bad("empty name or NUL byte");
    }
    if name.contains('\\') {
        return bad("backslash in path");
    }
    if name.starts_with('/') || name.as_bytes().get(1) == Some(&b':') {
        return bad("absolute path");
    }
    for c in Path::new(name).components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => return bad("path escapes the target folder (..)"),
            _ => return bad("absolute path"),
        }
    }
    Ok(())
}

/// Extract the package at `input` into `dir` (which must not exist or be empty).
/// Returns the number of files written.
pub fn unpack<R: Read + Seek>(input: R, dir: &Path, limits: Limits) -> Result<u64> {
    if dir.exists()
        && std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .next()
            .is_some()
    {
        return Err(Error::invalid(
            dir.display().to_string(),
            "target folder exists and is not empty",
        ));
    }
    let reader = PackageReader::open(input, limits)?;
    let manifest = reader.manifest.clone();
    // Everything written counts against the package's expansion budget (see `reader`).
    let (size, (mut total, budget)) = (reader.size(), reader.expanded());
    let mut zip =
        zip::ZipArchive::new(reader.into_inner()).map_err(|e| Error::zip("package", e))?;
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".reel-unpack-")
        .tempdir_in(parent)
        .map_err(|e| Error::io(parent, e))?;
    let expected: std::collections::HashMap<&str, &str> = manifest
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.sha256.as_str()))
        .collect();
    let mut count = 0u64;
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).map_err(|e| Error::zip("package", e))?;
        let name = f.name().map_err(|e| Error::zip("package", e))?.into_owned();
        check_entry_path(&name)?;
        if f.is_symlink() {
            return Err(Error::UnsafePath {
                entry: name,
                message: "symbolic link".into(),
            });
        }
        if f.is_dir() {
            std::fs::create_dir_all(tmp.path().join(&name)).map_err(|e| Error::io(&name, e))?;
            continue;
        }
        let out_path = tmp.path().join(&name);
        if let Some(p) = out_path.parent() {
            std::fs::create_dir_all(p).map_err(|e| Error::io(p, e))?;
        }
        let mut out = std::fs::File::create(&out_path).map_err(|e| Error::io(&out_path, e))?;
        let compressed = f.compressed_size().max(1);
        let mut hash = Sha256::new();
        let mut buf = vec![0u8; 256 << 10];
        let mut written = 0u64;
        loop {
            let n = f.read(&mut buf).map_err(|e| Error::zip(&name, e))?;
            if n == 0 {
                break;
            }
            written += n as u64;
            total += n as u64;
            if written > limits.max_entry_bytes || total > limits.max_total_bytes {
                return Err(Error::Limit {
                    context: name,
                    what: "decompressed size".into(),
                    limit: limits.max_entry_bytes.min(limits.max_total_bytes),
                    hint: "--max-bytes",
                });
            }
            if total > budget {
                return Err(super::reader::budget_error(&name, size, budget, &limits));
            }
            if written > limits.ratio_floor_bytes
                && written > compressed.saturating_mul(limits.max_ratio)
            {
                return Err(Error::Limit {
                    context: name,
                    what: "compression ratio".into(),
                    limit: limits.max_ratio,
                    hint: "--max-ratio",
                });
            }
            hash.update(&buf[..n]);
            out.write_all(&buf[..n])
                .map_err(|e| Error::io(&out_path, e))?;
        }
        if let Some(s) = manifest.sessions.iter().find(|s| s.meta == name) {
            // meta.json is checked like every reader checks it (ids, window files).
            let bytes = std::fs::read(&out_path).map_err(|e| Error::io(&out_path, e))?;
            let meta: super::SessionMeta =
                serde_json::from_slice(&bytes).map_err(|e| Error::json(&name, &e, 0))?;
            let listed = s.windows.iter().cloned().collect();
            super::reader::check_meta(&name, &s.id, &meta, &listed)?;
        }
        if let Some(exp) = expected.get(name.as_str()) {
            let actual = hex::encode(hash.finalize());
            if actual != *exp {
                return Err(Error::Checksum {
                    entry: name,
                    expected: exp.to_string(),
                    actual,
                });
            }
        }
        count += 1;
    }
    let tmp_path = tmp.keep();
    if dir.exists() {
        std::fs::remove_dir(dir).map_err(|e| Error::io(dir, e))?;
    }
    std::fs::rename(&tmp_path, dir).map_err(|e| {
        let _ = std::fs::remove_dir_all(&tmp_path);
        Error::io(dir, e)
    })?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_paths_are_refused() {
        for p in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "C:/x",
            "a\\..\\x",
            "",
            "a\0b",
        ] {
            assert!(check_entry_path(p).is_err(), "{p:?}");
        }
        for p in ["manifest.json", "sessions/a/windows/b.jsonl", "./x"] {
            assert!(check_entry_path(p).is_ok(), "{p:?}");
        }
    }
}
