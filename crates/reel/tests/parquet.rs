//! `reel parquet`: the tables of real recordings (tests/fixtures), read back with DuckDB's Python
//! package and compared with `reel inspect --json`; bad inputs fail with one line.
//!
//! DuckDB comes from `.tools/venv` (scripts/test installs it) or a `python3` that has it; without
//! it the DuckDB test is skipped with a note, or fails under `REEL_TEST_REQUIRE_SERVICES=1`.
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{reel, root, rrweb, wire_bodies, REEL};

/// Run `reel` with `args`, temporary files in `tmp`; it may fail.
fn run(tmp: &Path, args: &[&str]) -> Output {
    Command::new(REEL)
        .args(args)
        .env("TMPDIR", tmp)
        .output()
        .unwrap()
}

/// A Python with the `duckdb` package: `.tools/venv`'s, else `python3`'s. `None` (and a note)
/// when there is none, unless `REEL_TEST_REQUIRE_SERVICES` is set: then the test fails.
fn duckdb_python(test: &str) -> Option<PathBuf> {
    let venv = root().join(".tools/venv/bin/python");
    for py in [venv, PathBuf::from("python3")] {
        let has = Command::new(&py)
            .args(["-c", "import duckdb"])
            .output()
            .is_ok_and(|o| o.status.success());
        if has {
            return Some(py);
        }
    }
    if std::env::var("REEL_TEST_REQUIRE_SERVICES").is_ok() {
        panic!(
            "{test}: DuckDB's Python package is missing (scripts/test installs it into .tools/venv: \
             pip install duckdb)"
        );
    }
    eprintln!(
        "SKIPPED {test}: no Python with the `duckdb` package (pip install duckdb, or run scripts/test)"
    );
    None
}

/// What the test reads back from the two files, through DuckDB.
const QUERY: &str = r#"
import duckdb, json, sys
d = sys.argv[1]
S, E = f"'{d}/sessions.parquet'", f"'{d}/events.parquet'"
con = duckdb.connect()
def rows(q):
    cur = con.execute(q)
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]
strings = "concat_ws('|', url, target_tag, target_selector, target_text, input_value, console_message, network_url, custom_tag)"
out = {
    "sessions": rows(f"SELECT * FROM {S} ORDER BY session_id"),
    "session_types": {r["column_name"]: r["column_type"] for r in rows(f"DESCRIBE SELECT * FROM {S}")},
    "event_types": {r["column_name"]: r["column_type"] for r in rows(f"DESCRIBE SELECT * FROM {E}")},
    "events": con.execute(f"SELECT count(*) FROM {E}").fetchone()[0],
    "kinds": dict(con.execute(f"SELECT kind, count(*) FROM {E} GROUP BY kind").fetchall()),
    "events_per_session": dict(con.execute(f"SELECT session_id, count(*) FROM {E} GROUP BY ALL").fetchall()),
    "clicks_with_target": con.execute(f"SELECT count(*) FROM {E} WHERE kind = 'click' AND target_tag IS NOT NULL AND x IS NOT NULL AND y IS NOT NULL").fetchone()[0],
    "password_canary": con.execute(f"SELECT count(*) FROM {E} WHERE {strings} LIKE '%Pa55word-CANARY-9%'").fetchone()[0],
    "masked_inputs": con.execute(f"SELECT count(*) FROM {E} WHERE kind = 'input' AND regexp_full_match(input_value, '\\*+')").fetchone()[0],
    "console_errors": dict(con.execute(f"SELECT session_id, count(*) FROM {E} WHERE kind = 'console' AND console_level IN ('error', 'assert') GROUP BY ALL").fetchall()),
    "requests": con.execute(f"SELECT count(*) FROM {E} WHERE kind = 'network' AND network_url IS NOT NULL").fetchone()[0],
    "rage_join": con.execute(f"SELECT count(*) FROM {E} e JOIN {S} s USING (session_id) WHERE e.kind = 'click' AND s.distinct_id IS NOT NULL").fetchone()[0],
}
print(json.dumps(out, default=str))
"#;

#[test]
fn tables_of_real_recordings_match_inspect() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let s = |p: &Path| p.display().to_string();
    // A package from rrweb (the checkout page with a password typed), one from posthog-js's own
    // /s/ bodies (cv-packed, console and network capture), and a bare rrweb file as it is.
    let checkout = s(&t.join("checkout.reel.zip"));
    reel(&["pack", &rrweb("checkout"), "-o", &checkout]);
    let wire = s(&t.join("wire.reel.zip"));
    let mut args = vec!["pack".to_string()];
    args.extend(wire_bodies("checkout"));
    args.extend(["-o".into(), wire.clone()]);
    reel(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let swagger = rrweb("swagger");
    let out = s(&t.join("tables/nested"));
    let o = reel(&["parquet", &checkout, &wire, &swagger, "-o", &out, "--json"]);
    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();

    // What inspect says of each input.
    let mut expected: Vec<Value> = Vec::new();
    for input in [&checkout, &wire, &swagger] {
        let o = reel(&["inspect", input, "--json"]);
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        expected.extend(v["sessions"].as_array().unwrap().iter().cloned());
    }
    assert_eq!(summary["sessions"], expected.len() as u64);
    assert_eq!(
        summary["files"],
        serde_json::json!([
            format!("{out}/sessions.parquet"),
            format!("{out}/events.parquet")
        ])
    );
    let event_json: u64 = expected.iter().map(|e| e["size"].as_u64().unwrap()).sum();
    assert_eq!(summary["bytes_in"], event_json);
    // Nothing but the two files is left in the folder.
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["events.parquet", "sessions.parquet"]);

    let Some(py) = duckdb_python("tables_of_real_recordings_match_inspect") else {
        return;
    };
    let o = Command::new(py).args(["-c", QUERY, &out]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got: Value = serde_json::from_slice(&o.stdout).unwrap();

    let rows = got["sessions"].as_array().unwrap();
    assert_eq!(rows.len(), expected.len());
    for want in &expected {
        let id = want["id"].as_str().unwrap();
        let row = rows
            .iter()
            .find(|r| r["session_id"] == id)
            .unwrap_or_else(|| panic!("session {id} missing: {rows:?}"));
        for col in [
            "click_count",
            "keypress_count",
            "mouse_activity_count",
            "console_log_count",
            "console_warn_count",
            "console_error_count",
            "event_count",
            "size",
        ] {
            assert_eq!(row[col], want[col], "{id} {col}");
        }
        assert_eq!(row["active_milliseconds"], want["active_ms"], "{id}");
        assert_eq!(row["distinct_id"], want["distinct_id"], "{id}");
        assert_eq!(row["first_url"], want["urls"][0], "{id}");
        assert_eq!(row["all_urls"], want["urls"], "{id}");
        assert_eq!(row["snapshot_source"], "web");
        // Every session has events; console errors per session agree with its count.
        assert!(got["events_per_session"][id].as_u64().unwrap() > 0, "{id}");
        assert_eq!(
            got["console_errors"][id].as_u64().unwrap_or(0),
            want["console_error_count"].as_u64().unwrap(),
            "{id}"
        );
    }
    let st = &got["session_types"];
    assert_eq!(st["session_id"], "VARCHAR");
    assert_eq!(st["min_first_timestamp"], "TIMESTAMP WITH TIME ZONE");
    assert_eq!(st["max_last_timestamp"], "TIMESTAMP WITH TIME ZONE");
    assert_eq!(st["all_urls"], "VARCHAR[]");
    for c in [
        "click_count",
        "console_error_count",
        "active_milliseconds",
        "size",
    ] {
        assert_eq!(st[c], "BIGINT", "{c}");
    }
    let et = &got["event_types"];
    assert_eq!(et["timestamp"], "TIMESTAMP WITH TIME ZONE");
    assert_eq!(et["x"], "DOUBLE");
    assert_eq!(et["target_id"], "BIGINT");
    assert_eq!(et["network_status"], "BIGINT");
    assert_eq!(et["network_duration_ms"], "DOUBLE");
    assert_eq!(got["events"], summary["events"]);

    let kinds = &got["kinds"];
    for k in [
        "navigation",
        "viewport",
        "click",
        "input",
        "scroll",
        "console",
        "network",
    ] {
        assert!(kinds[k].as_u64().unwrap_or(0) > 0, "no {k} rows: {kinds}");
    }
    for k in kinds.as_object().unwrap().keys() {
        assert!(reel_parquet::EVENT_KINDS.contains(&k.as_str()), "kind {k}");
    }
    assert!(got["clicks_with_target"].as_u64().unwrap() > 0);
    assert!(got["requests"].as_u64().unwrap() > 0);
    assert!(got["rage_join"].as_u64().unwrap() > 0);
    // The password field was recorded masked: rows keep the `*`s, never the password.
    assert!(got["masked_inputs"].as_u64().unwrap() > 0);
    assert_eq!(got["password_canary"], 0);
}

#[test]
fn bad_inputs_fail_with_one_line_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let s = |p: &Path| p.display().to_string();
    let good = s(&t.join("good.reel.zip"));
    reel(&["pack", &rrweb("checkout"), "-o", &good]);
    let not_zip = t.join("not-a-zip.reel.zip");
    std::fs::write(&not_zip, b"hello, this is not a recording").unwrap();
    // A ZIP's first bytes, then garbage.
    let corrupt = t.join("corrupt.reel.zip");
    let mut bytes = std::fs::read(&good).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&corrupt, &bytes).unwrap();
    let file = t.join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let out = t.join("out");
    let cases: [(Vec<String>, &str); 4] = [
        (
            vec![s(&not_zip), "-o".into(), s(&out)],
            "not-a-zip.reel.zip",
        ),
        (
            vec![good.clone(), s(&corrupt), "-o".into(), s(&out)],
            "corrupt.reel.zip",
        ),
        (
            vec![s(&t.join("missing.json")), "-o".into(), s(&out)],
            "missing.json",
        ),
        (
            vec![good.clone(), "-o".into(), s(&file.join("sub"))],
            "a-file",
        ),
    ];
    for (args, names) in cases {
        let mut a = vec!["parquet"];
        a.extend(args.iter().map(String::as_str));
        let o = run(t, &a);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{a:?} succeeded");
        assert_eq!(err.trim_end().lines().count(), 1, "{a:?}: {err}");
        assert!(err.starts_with("reel: error: "), "{a:?}: {err}");
        assert!(err.contains(names), "{a:?}: {err}");
        assert!(!out.join("sessions.parquet").exists(), "{a:?}");
    }
    // No temporary file is left behind by the failures.
    if out.exists() {
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
    }
}
