//! Format 1.3: comments inside the package (`sessions/<id>/comments.json`).
use reel_format::import::{import, ImportOptions};
use reel_format::package::comments::{comments_path, Comment};
use reel_format::package::{PackageReader, PackageWriter, WriterOptions};
use std::io::Cursor;
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

fn package(comments: Vec<Comment>) -> (Vec<u8>, String) {
    let rec = recording();
    let mut w = PackageWriter::new(Cursor::new(Vec::new()), WriterOptions::default());
    let id = rec.sessions[0].id.clone();
    for s in &rec.sessions {
        w.add_session(s).unwrap();
    }
    w.add_comments(&id, comments).unwrap();
    (w.finish(None).unwrap().0.into_inner(), id)
}

#[test]
fn comments_travel_in_their_own_listed_entry() {
    let rec = recording();
    let start = rec.sessions[0].windows[0].events[0].timestamp;
    let late = Comment::new("c-late", start + 3000, start, "second\nline", "", start + 1);
    let early = Comment::new(
        "c-early",
        start + 250,
        start,
        "the pay button did nothing",
        "ana",
        start + 2,
    );
    let (pkg, id) = package(vec![late.clone(), early.clone()]);
    let mut r = PackageReader::open(Cursor::new(&pkg), Default::default()).unwrap();
    assert_eq!(r.manifest.format_version, "1.3");
    assert!(r
        .manifest
        .files
        .iter()
        .any(|f| f.path == comments_path(&id)));
    // In time order, as written.
    assert_eq!(r.comments(&id).unwrap(), vec![early, late]);
    assert!(r.comments("no-such-session").unwrap().is_empty());
    let report = r.verify(None, &mut |_| {}).unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    // A reader that knows nothing of comments still reads the events.
    assert_eq!(
        reel_format::package::read_recording(Cursor::new(&pkg), &Default::default())
            .unwrap()
            .sessions[0]
            .event_count(),
        rec.sessions[0].event_count()
    );
}

#[test]
fn no_comments_no_entry_and_the_version_stays() {
    let (pkg, id) = package(Vec::new());
    let mut r = PackageReader::open(Cursor::new(&pkg), Default::default()).unwrap();
    assert_eq!(r.manifest.format_version, "1.1");
    assert!(r.comments(&id).unwrap().is_empty());
}

#[test]
fn a_bad_comment_is_refused_when_writing() {
    let rec = recording();
    let mut w = PackageWriter::new(Cursor::new(Vec::new()), WriterOptions::default());
    w.add_session(&rec.sessions[0]).unwrap();
    let bad = Comment::new("c", 0, 0, "bell\u{7}", "", 0);
    let e = w.add_comments(&rec.sessions[0].id, vec![bad]).unwrap_err();
    assert!(e.to_string().contains("control"), "{e}");
}

#[test]
fn verify_refuses_a_comments_entry_that_breaks_the_rules() {
    let rec = recording();
    let id = rec.sessions[0].id.clone();
    for (doc, what) in [
        (
            r#"{"version":1,"session_id":"other","comments":[]}"#.to_string(),
            "session_id",
        ),
        (
            format!(
                r#"{{"version":1,"session_id":"{id}","comments":[{{"id":"c","timestamp":"yesterday","t_ms":0,"text":"x","created_at":"2026-01-01T00:00:00Z"}}]}}"#
            ),
            "RFC 3339",
        ),
        (
            format!(
                r#"{{"version":1,"session_id":"{id}","comments":[{{"id":"c","timestamp":"2026-01-01T00:00:00Z","t_ms":0,"text":"\u001b[2J","created_at":"2026-01-01T00:00:00Z"}}]}}"#
            ),
            "control",
        ),
    ] {
        // Listed with the right checksum: only the rules of the entry can refuse it.
        let mut w = PackageWriter::new(Cursor::new(Vec::new()), WriterOptions::default());
        w.add_session(&rec.sessions[0]).unwrap();
        w.add_file(&comments_path(&id), doc.as_bytes()).unwrap();
        let pkg = w.finish(None).unwrap().0.into_inner();
        let mut r = PackageReader::open(Cursor::new(&pkg), Default::default()).unwrap();
        let e = r.verify(None, &mut |_| {}).unwrap_err().to_string();
        assert!(
            e.contains(what) && e.contains("comments.json"),
            "{what}: {e}"
        );
        assert!(r.comments(&id).is_err());
    }
}
