//! `reel moments`, `summary.json` in packages (pack, redact) and `reel inspect` on the real
//! fixtures (tests/fixtures; see its README for what each recording is).
use serde_json::Value;
use std::process::Command;

mod common;
use common::{json_of, reel, root, rrweb, wire_bodies, REEL};

fn count(session: &Value, kind: &str) -> u64 {
    session["counts"][kind].as_u64().unwrap()
}

/// The moments of every fixture, and why they are right:
///
/// * No fixture has a `rage_click`: the scripted sessions click each control once, at least
///   1 s apart; Shoelace's components report some clicks twice within 8 ms at the same point
///   (the shadow host and its inner element), which is two clicks, not three.
/// * No fixture has a `dead_click`: every click lands on a control that reacts (the page
///   re-renders, a field takes input, a tab or dialog opens) or on a text field, which is never
///   judged.
/// * rrweb `shoelace`: Chromium reported "ResizeObserver loop completed with undelivered
///   notifications." twice (0.6 s, 47.6 s; the second 11 ms after a tab click, so also an
///   `error_click`): 2 `console_error`, no `exception` (the message is not an uncaught error's).
///   posthog-js `shoelace` recorded only the second (its console capture started later). The
///   checkout runs log and warn only.
/// * posthog-js's initial resource-timing entries of the other origin carry `responseStatus: 0`
///   (hidden by the browser, not failed): no `network_error`.
/// * One page each: no `navigation`, `reload` or `thrash`; posthog-js's requests to 127.0.0.1
///   all succeeded quickly: no `network_error` or `slow_request`.
#[test]
fn fixture_moments_are_what_a_person_sees() {
    let tmp = tempfile::tempdir().unwrap();
    let mut inputs: Vec<(String, Vec<String>)> = ["checkout", "swagger", "shoelace"]
        .iter()
        .map(|n| (format!("rrweb/{n}"), vec![rrweb(n)]))
        .collect();
    for run in ["checkout", "checkout-minimal-config", "shoelace"] {
        inputs.push((format!("posthog-wire/{run}"), wire_bodies(run)));
    }
    for (name, files) in inputs {
        let pkg = tmp.path().join("p.reel.zip").display().to_string();
        let mut args = vec!["pack"];
        args.extend(files.iter().map(String::as_str));
        args.extend(["-o", &pkg]);
        reel(&args);
        let v = json_of(&reel(&["moments", &pkg, "--json"]));
        let s = &v["sessions"][0];
        assert_eq!(count(s, "rage_click"), 0, "{name}: {s:#}");
        assert_eq!(count(s, "dead_click"), 0, "{name}: {:#}", s["moments"]);
        for k in [
            "navigation",
            "reload",
            "thrash",
            "network_error",
            "slow_request",
            "exception",
        ] {
            assert_eq!(count(s, k), 0, "{name}: {k}: {:#}", s["moments"]);
        }
        let errors = match name.as_str() {
            "rrweb/shoelace" => 2,
            "posthog-wire/shoelace" => 1,
            _ => 0,
        };
        assert_eq!(count(s, "console_error"), errors, "{name}");
        // The summary names the page and counts what the script did.
        let sum = &s["summary"];
        assert_eq!(sum["pages"].as_array().unwrap().len(), 1, "{name}");
        assert!(sum["clicks"].as_u64().unwrap() >= 14, "{name}: {sum:#}");
        assert!(
            sum["text"].as_str().unwrap().contains("The person clicked"),
            "{name}"
        );
        // The same document as the package's own summary.json (computed while packing).
        let insp = json_of(&reel(&["inspect", &pkg, "--json"]));
        assert_eq!(insp["sessions"][0]["moment_counts"], s["counts"], "{name}");
    }
}

#[test]
fn pack_writes_summary_json_listed_and_verified() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = tmp.path().join("c.reel.zip");
    let p = pkg.display().to_string();
    reel(&[
        "pack",
        &rrweb("checkout"),
        "-o",
        &p,
        "--custom-tag",
        "never-used",
    ]);
    let f = std::fs::File::open(&pkg).unwrap();
    let mut z = zip::ZipArchive::new(f).unwrap();
    let manifest: Value = serde_json::from_reader(z.by_name("manifest.json").unwrap()).unwrap();
    assert_eq!(manifest["format_version"], "1.1");
    let id = manifest["sessions"][0]["id"].as_str().unwrap().to_string();
    let path = format!("sessions/{id}/summary.json");
    assert!(
        manifest["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"] == path),
        "summary.json is listed (checksummed and signed like every entry)"
    );
    let summary: Value = serde_json::from_reader(z.by_name(&path).unwrap()).unwrap();
    assert_eq!(summary["session_id"], id);
    assert_eq!(summary["custom_tags"][0], "never-used");
    let verify = reel(&["verify", &p]);
    assert!(String::from_utf8_lossy(&verify.stdout).contains("OK"));
    // The Python reader of docs/examples ignores the new entry.
    let py = Command::new("python3")
        .arg(root().join("docs/examples/read_package.py"))
        .arg(&p)
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    // reel inspect shows counts per kind and the summary text.
    let text = String::from_utf8(reel(&["inspect", &p]).stdout).unwrap();
    assert!(text.contains("  moments     "), "{text}");
    assert!(text.contains("  summary     A "), "{text}");
}

#[test]
fn redact_computes_the_summary_after_redaction() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("r.reel.zip").display().to_string();
    reel(&[
        "redact",
        &rrweb("checkout"),
        "--preset",
        "strict",
        "-o",
        &out,
    ]);
    let f = std::fs::File::open(&out).unwrap();
    let mut z = zip::ZipArchive::new(f).unwrap();
    let names: Vec<String> = z.file_names().map(|n| n.unwrap().into_owned()).collect();
    let name = names
        .iter()
        .find(|n| n.ends_with("/summary.json"))
        .expect("summary.json")
        .clone();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut z.by_name(&name).unwrap(), &mut text).unwrap();
    // Canaries typed or shown on the page (tests/fixtures/README.md) do not reach the summary.
    for canary in [
        "Zelda Canary",
        "zelda.canary@example.com",
        "4111",
        "SECRET-CANARY-7731",
    ] {
        assert!(!text.contains(canary), "{canary} in {text}");
    }
    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(v["summary"]["clicks"].as_u64().unwrap() >= 14);
}

#[test]
fn kind_filter_and_bad_kind() {
    let v = json_of(&reel(&[
        "moments",
        &rrweb("shoelace"),
        "--json",
        "--kind",
        "console_error",
    ]));
    let ms = v["sessions"][0]["moments"].as_array().unwrap();
    assert_eq!(ms.len(), 2);
    assert!(ms.iter().all(|m| m["kind"] == "console_error"));
    // Times are from the session's first event.
    assert!(
        (500..700).contains(&ms[0]["t_ms"].as_i64().unwrap()),
        "{:#}",
        ms[0]
    );
    let out = Command::new(REEL)
        .args(["moments", &rrweb("shoelace"), "--kind", "rage"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--kind \"rage\": use one of rage_click"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}
