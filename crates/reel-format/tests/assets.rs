//! Format 1.2: assets inside the package (`assets/sha256/<hex>` and the manifest's `assets` map).
use reel_format::import::{import, ImportOptions};
use reel_format::package::{PackageReader, PackageWriter, WriterOptions};
use sha2::{Digest, Sha256};
use std::io::{Cursor, Read, Write};
use std::path::Path;

fn recording() -> reel_format::Recording {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/rrweb/checkout.json");
    import(
        "checkout.json",
        &std::fs::read(p).unwrap(),
        &ImportOptions::default(),
    )
    .unwrap()
    .1
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n not really a png";
const CSS: &[u8] = b"body { background: url(bg.png) } body { background: url(bg.png) }";

fn package(assets: bool) -> Vec<u8> {
    let mut w = PackageWriter::new(Cursor::new(Vec::new()), WriterOptions::default());
    for s in &recording().sessions {
        w.add_session(s).unwrap();
    }
    if assets {
        let t = "2026-11-30T06:00:00.000Z";
        w.add_asset("https://example.com/bg.png", PNG, "image/png", t)
            .unwrap();
        // Same bytes under a second URL: one entry.
        w.add_asset("https://cdn.example.com/bg.png", PNG, "image/png", t)
            .unwrap();
        w.add_asset("https://example.com/site.css", CSS, "text/css", t)
            .unwrap();
        assert!(w
            .add_asset("https://example.com/site.css", CSS, "text/css", t)
            .is_err());
    }
    w.finish(None).unwrap().0.into_inner()
}

#[test]
fn assets_are_content_addressed_listed_and_verified() {
    let pkg = package(true);
    let mut r = PackageReader::open(Cursor::new(&pkg), Default::default()).unwrap();
    assert_eq!(r.manifest.format_version, "1.2");
    assert_eq!(r.manifest.assets.len(), 3);
    let png = hex::encode(Sha256::digest(PNG));
    let a = &r.manifest.assets["https://cdn.example.com/bg.png"];
    assert_eq!(
        (a.sha256.as_str(), a.size),
        (png.as_str(), PNG.len() as u64)
    );
    assert_eq!(a.content_type, "image/png");
    let names = r.entry_names().unwrap();
    assert_eq!(names.iter().filter(|n| n.starts_with("assets/")).count(), 2);
    let report = r.verify(None, &mut |_| {}).unwrap();
    assert_eq!(report.assets, 3);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let (_, bytes) = r.read_asset("https://example.com/bg.png").unwrap().unwrap();
    assert_eq!(bytes, PNG);
    assert!(r
        .read_asset("https://example.com/none.png")
        .unwrap()
        .is_none());
    // Already-compressed types are stored, text deflated.
    let mut z = zip::ZipArchive::new(Cursor::new(&pkg)).unwrap();
    let m = z
        .by_name(&format!("assets/sha256/{png}"))
        .unwrap()
        .compression();
    assert_eq!(m, zip::CompressionMethod::Stored);
    let css = hex::encode(Sha256::digest(CSS));
    let m = z
        .by_name(&format!("assets/sha256/{css}"))
        .unwrap()
        .compression();
    assert_eq!(m, zip::CompressionMethod::Deflated);
    // The sums cover the assets.
    let mut sums = String::new();
    z.by_name("SHA256SUMS")
        .unwrap()
        .read_to_string(&mut sums)
        .unwrap();
    assert!(sums.contains(&format!("{png}  assets/sha256/{png}")));
}

#[test]
fn a_package_without_assets_stays_1_1() {
    let r = PackageReader::open(Cursor::new(package(false)), Default::default()).unwrap();
    assert_eq!(r.manifest.format_version, "1.1");
    let m: serde_json::Value = serde_json::from_slice(r.manifest_bytes()).unwrap();
    assert!(m.get("assets").is_none());
}

/// Rebuild `pkg` with `edit` applied to the manifest JSON and the entries renamed by `rename`,
/// SHA256SUMS rewritten to match (so only the asset checks can object).
fn rebuilt(
    pkg: &[u8],
    edit: impl Fn(&mut serde_json::Value),
    rename: impl Fn(&str) -> String,
) -> Vec<u8> {
    let mut z = zip::ZipArchive::new(Cursor::new(pkg)).unwrap();
    let mut m: serde_json::Value = {
        let mut s = String::new();
        z.by_name("manifest.json")
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        serde_json::from_str(&s).unwrap()
    };
    edit(&mut m);
    for f in m["files"].as_array_mut().unwrap() {
        let p = rename(f["path"].as_str().unwrap());
        f["path"] = p.into();
    }
    let mbytes = serde_json::to_vec_pretty(&m).unwrap();
    let mut sums = String::new();
    for f in m["files"].as_array().unwrap() {
        sums += &format!(
            "{}  {}\n",
            f["sha256"].as_str().unwrap(),
            f["path"].as_str().unwrap()
        );
    }
    sums += &format!("{}  manifest.json\n", hex::encode(Sha256::digest(&mbytes)));
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let o = zip::write::SimpleFileOptions::default();
    for i in 0..z.len() {
        let mut e = z.by_index(i).unwrap();
        let name = e.name().unwrap().to_string();
        let mut b = Vec::new();
        e.read_to_end(&mut b).unwrap();
        let b = match name.as_str() {
            "manifest.json" => mbytes.clone(),
            "SHA256SUMS" => sums.clone().into_bytes(),
            _ => b,
        };
        out.start_file(rename(&name), o).unwrap();
        out.write_all(&b).unwrap();
    }
    out.finish().unwrap().into_inner()
}

fn verify_err(pkg: &[u8]) -> String {
    let mut r = PackageReader::open(Cursor::new(pkg), Default::default()).unwrap();
    r.verify(None, &mut |_| {}).unwrap_err().to_string()
}

#[test]
fn verify_refuses_assets_that_do_not_match() {
    let pkg = package(true);
    let png = hex::encode(Sha256::digest(PNG));
    // An entry whose name is not its hash.
    let wrong = "0".repeat(64);
    let bad = rebuilt(
        &pkg,
        |m| {
            for a in m["assets"].as_object_mut().unwrap().values_mut() {
                if a["sha256"] == png.as_str() {
                    a["sha256"] = wrong.clone().into();
                }
            }
        },
        |p| p.replace(&png, &wrong),
    );
    assert!(verify_err(&bad).contains(&format!("assets/sha256/{wrong}")));
    // A size that is not the entry's.
    let bad = rebuilt(
        &pkg,
        |m| m["assets"]["https://example.com/bg.png"]["size"] = 1.into(),
        |p| p.to_string(),
    );
    assert!(
        verify_err(&bad).contains("size 1 differs"),
        "{}",
        verify_err(&bad)
    );
    // A URL pointing at no entry.
    let bad = rebuilt(
        &pkg,
        |m| m["assets"]["https://example.com/bg.png"]["sha256"] = "a".repeat(64).into(),
        |p| p.to_string(),
    );
    assert!(verify_err(&bad).contains("is not in the package"));
}

/// What a format-1.1 reader sees: the manifest's known fields (the `assets` map is kept as an
/// unknown field), every listed entry, and the events.
#[test]
fn a_1_1_reader_reads_the_events_of_a_1_2_package() {
    #[derive(serde::Deserialize)]
    struct Manifest11 {
        format_version: String,
        sessions: Vec<serde_json::Value>,
        files: Vec<serde_json::Value>,
        #[serde(flatten)]
        extra: serde_json::Map<String, serde_json::Value>,
    }
    let pkg = package(true);
    let mut z = zip::ZipArchive::new(Cursor::new(&pkg)).unwrap();
    let mut s = String::new();
    z.by_name("manifest.json")
        .unwrap()
        .read_to_string(&mut s)
        .unwrap();
    let m: Manifest11 = serde_json::from_str(&s).unwrap();
    assert_eq!(m.format_version, "1.2");
    assert!(m.extra.contains_key("assets"));
    assert_eq!(m.sessions.len(), 1);
    assert!(m
        .files
        .iter()
        .any(|f| f["path"].as_str().unwrap().starts_with("assets/")));
    let rec = reel_format::package::read_recording(Cursor::new(&pkg), &Default::default()).unwrap();
    assert_eq!(rec.sessions.len(), recording().sessions.len());
    assert_eq!(
        rec.sessions[0].windows[0].events.len(),
        recording().sessions[0].windows[0].events.len()
    );
}
