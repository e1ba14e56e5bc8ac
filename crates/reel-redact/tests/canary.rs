//! Canary tests: known fake PII planted by real recorders (the checkout fixtures) and by a
//! generated recording must not survive redaction anywhere in the output package.
use reel_format::import::{import, ImportOptions};
use reel_format::package::{PackageWriter, WriterOptions, REDACTION_REPORT};
use reel_format::{Event, Recording};
use reel_redact::{Redactor, Report};
use serde_json::Value;
use std::io::{Cursor, Read};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

const CANARIES: &[&str] = &[
    "Zelda Canary",
    "zelda.canary@example.com",
    "4111 1111 1111 1111",
    "4111111111111111",
    "+1-555-0142",
    "42 Canary Wharf Lane, Springfield",
    "SECRET-CANARY-7731",
];

const RULES: &str = r#"
name = "checkout canaries"
mask_text = [".secret"]

[mask_inputs]
all = true

[patterns]
builtin = ["email", "card", "phone"]

[[patterns.custom]]
name = "person name"
regex = 'Zelda Canary'

[[patterns.custom]]
name = "address"
regex = '42 Canary Wharf Lane, Springfield'
"#;

fn rrweb_checkout() -> Recording {
    let bytes = std::fs::read(format!("{FIXTURES}/checkout.json")).unwrap();
    import("checkout.json", &bytes, &ImportOptions::default())
        .unwrap()
        .1
}

fn posthog_checkout() -> Recording {
    let mut rec = Recording::default();
    let mut paths: Vec<_> = std::fs::read_dir(format!("{FIXTURES}/posthog-checkout"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for p in paths {
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(&bytes[..2], &[0x1f, 0x8b], "fixture bodies are gzip");
        let (_, r) = import(&p.display().to_string(), &bytes, &ImportOptions::default()).unwrap();
        rec.merge(r);
    }
    rec.sort();
    rec
}

/// Every string value inside a JSON value.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

fn all_strings(rec: &Recording) -> Vec<String> {
    let mut out = Vec::new();
    for s in &rec.sessions {
        for w in &s.windows {
            for e in &w.events {
                strings(&e.to_value().unwrap(), &mut out);
            }
        }
    }
    out
}

/// Typed values and every prefix of 4+ characters (inputs typed key by key leave them all).
fn typed_prefixes(rec: &Recording) -> Vec<String> {
    let mut out = Vec::new();
    for s in &rec.sessions {
        for w in &s.windows {
            for e in &w.events {
                if e.source == Some(reel_format::IncrementalSource::Input) {
                    let v = e.to_value().unwrap();
                    if let Some(t) = v["data"]["text"].as_str() {
                        if t.chars().count() >= 4 && !t.chars().all(|c| c == '*') && t != "on" {
                            out.push(t.to_string());
                        }
                    }
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Redact like `reel redact` does and return the package bytes and the report.
fn redact_package(mut rec: Recording, r: &Redactor) -> (Vec<u8>, Report) {
    let mut report = Report::new(r.info().clone());
    let mut w = PackageWriter::new(
        Cursor::new(Vec::new()),
        WriterOptions {
            redaction: Some(r.manifest_entry(&report.redacted_at)),
            ..Default::default()
        },
    );
    for s in &mut rec.sessions {
        let sr = r.session(s).unwrap();
        report.add_session(sr);
        w.add_session(s).unwrap();
    }
    w.add_file(
        REDACTION_REPORT,
        &serde_json::to_vec_pretty(&report).unwrap(),
    )
    .unwrap();
    let (cur, _) = w.finish(None).unwrap();
    (cur.into_inner(), report)
}

/// Every entry of a package, decompressed.
fn entries(zip_bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(Cursor::new(zip_bytes)).unwrap();
    let mut out = Vec::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let mut b = Vec::new();
        f.read_to_end(&mut b).unwrap();
        out.push((f.name().unwrap().to_string(), b));
    }
    out
}

/// Fail if any canary (or digit-only canary inside a JSON string) is anywhere in the package.
fn assert_clean(pkg: &[u8], canaries: &[String]) {
    let lower = |b: &[u8]| String::from_utf8_lossy(b).to_string();
    for (name, bytes) in entries(pkg) {
        let text = lower(&bytes);
        let mut texts = vec![text.clone()];
        // Decoded strings of every JSON line/document, and any `cv` field still packed.
        let mut strs = Vec::new();
        for line in text.lines() {
            if let Ok(v) = serde_json::from_str::<Value>(line) {
                if v.get("cv").is_some() {
                    let e = Event::parse(line).unwrap();
                    let e = reel_format::cv::unpack(e, &Default::default()).unwrap();
                    texts.push(e.json().to_string());
                    strings(&e.to_value().unwrap(), &mut strs);
                }
                strings(&v, &mut strs);
            }
        }
        if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
            strings(&v, &mut strs);
        }
        for c in canaries {
            let digits_only = c.chars().all(|ch| ch.is_ascii_digit());
            if !digits_only {
                for t in &texts {
                    assert!(!t.contains(c.as_str()), "{c:?} survived in {name}");
                }
            }
            for s in &strs {
                assert!(
                    !s.contains(c.as_str()),
                    "{c:?} survived in a string of {name}: {s:.120}"
                );
            }
        }
    }
}

fn canaries_for(rec: &Recording) -> Vec<String> {
    let mut c: Vec<String> = CANARIES.iter().map(|s| s.to_string()).collect();
    c.extend(typed_prefixes(rec));
    c
}

#[test]
fn rrweb_checkout_has_no_canary_left() {
    let rec = rrweb_checkout();
    let canaries = canaries_for(&rec);
    assert!(canaries.iter().any(|c| c == "Zeld"), "prefixes collected");
    assert!(canaries.iter().any(|c| c == "zelda.c"));
    let before = all_strings(&rec).join("\n");
    assert!(before.contains("SECRET-CANARY-7731") && before.contains("Zelda Canary"));
    let r = Redactor::from_toml(RULES).unwrap();
    let (pkg, report) = redact_package(rec, &r);
    assert_clean(&pkg, &canaries);
    assert!(report.counts.rule("mask_inputs") >= 60, "{report:#?}");
    assert!(report.counts.rule("mask_text .secret") >= 1, "{report:#?}");
    assert_eq!(report.sessions_touched.len(), 1);
    // The report holds no values.
    let rep = serde_json::to_string(&report).unwrap();
    for c in CANARIES {
        assert!(!rep.contains(c));
    }
    // The package still verifies.
    let v = reel_format::package::PackageReader::open(Cursor::new(&pkg[..]), Default::default())
        .unwrap()
        .verify(None, &mut |_| {})
        .unwrap();
    assert_eq!(v.sessions, 1, "{v:?}");
}

#[test]
fn posthog_wire_checkout_has_no_canary_left() {
    let rec = posthog_checkout();
    assert_eq!(rec.sessions.len(), 1);
    let canaries = canaries_for(&rec);
    let r = Redactor::from_toml(RULES).unwrap();
    let (pkg, report) = redact_package(rec, &r);
    assert_clean(&pkg, &canaries);
    assert!(report.counts.rule("mask_inputs") > 0);
    for (name, bytes) in entries(&pkg) {
        if name.ends_with(".jsonl") {
            assert!(
                !String::from_utf8_lossy(&bytes).contains("\"cv\""),
                "cv packing undone"
            );
        }
    }
}

/// Occurrences of `needle` in every string value.
fn occurrences(strs: &[String], needle: &str) -> u64 {
    strs.iter().map(|s| s.matches(needle).count() as u64).sum()
}

#[test]
fn report_counts_match_what_was_planted() {
    // Pattern-only rules, one custom pattern per canary: each count must equal the occurrences
    // counted here in the input's string values.
    let mut rules = String::from("name = \"count\"\n");
    let named: Vec<(&str, &str)> = vec![
        ("name", "Zelda Canary"),
        ("email", "zelda.canary@example.com"),
        ("card", "4111 1111 1111 1111"),
        ("phone", "+1-555-0142"),
        ("address", "42 Canary Wharf Lane, Springfield"),
        ("secret", "SECRET-CANARY-7731"),
    ];
    for (n, c) in &named {
        rules.push_str(&format!(
            "[[patterns.custom]]\nname = \"{n}\"\nregex = '{}'\n",
            regex::escape(c)
        ));
    }
    let r = Redactor::from_toml(&rules).unwrap();
    for rec in [rrweb_checkout(), posthog_checkout()] {
        let strs = all_strings(&rec);
        let (pkg, report) = redact_package(rec, &r);
        for (n, c) in &named {
            let planted = occurrences(&strs, c);
            assert!(planted > 0 || *n == "card", "{c} planted");
            assert_eq!(report.counts.rule(&format!("pattern {n}")), planted, "{n}");
        }
        assert_clean(
            &pkg,
            &named.iter().map(|(_, c)| c.to_string()).collect::<Vec<_>>(),
        );
    }
}

/// A recording made up here, with canaries in every kind of field.
fn generated() -> Recording {
    let ev = |v: Value| Event::parse(v.to_string()).unwrap();
    let events = vec![
        ev(
            serde_json::json!({"type":4,"timestamp":1000,"data":{"href":"https://shop.example/checkout?token=TOKCANARY1&step=2","width":800,"height":600}}),
        ),
        ev(
            serde_json::json!({"type":2,"timestamp":1001,"data":{"initialOffset":{"top":0,"left":0},"node":
            {"type":0,"id":1,"childNodes":[{"type":2,"id":2,"tagName":"html","attributes":{},"childNodes":[
              {"type":2,"id":3,"tagName":"body","attributes":{},"childNodes":[
                {"type":2,"id":4,"tagName":"div","attributes":{"class":"card","title":"Owner Zelda Canary"},"childNodes":[
                  {"type":3,"id":5,"textContent":"Card 4111 1111 1111 1111"}]},
                {"type":2,"id":6,"tagName":"input","attributes":{"type":"text","value":"VALCANARY"},"childNodes":[]},
                {"type":2,"id":7,"tagName":"p","attributes":{"class":"later"},"childNodes":[{"type":3,"id":8,"textContent":"LATERCANARY shown before"}]},
                {"type":2,"id":9,"tagName":"div","attributes":{"class":"box"},"childNodes":[]},
                {"type":2,"id":10,"tagName":"a","attributes":{"href":"https://x.example/?email=zelda.canary%40example.com&ok=1"},"childNodes":[]},
                {"type":2,"id":11,"tagName":"img","attributes":{"src":"https://cdn.example/face.png","width":"40","height":"40"},"childNodes":[]},
                {"type":2,"id":12,"tagName":"section","attributes":{"data-reel-block":""},"childNodes":[{"type":3,"id":13,"textContent":"BLOCKCANARY"}]}
              ]}]}]}}}),
        ),
        // Class added later: from now on .later is masked (its current text is masked by a synthetic text).
        ev(
            serde_json::json!({"type":3,"timestamp":1002,"data":{"source":0,"texts":[],"removes":[],"adds":[],
          "attributes":[{"id":7,"attributes":{"class":"later rr-mask"}}]}}),
        ),
        ev(
            serde_json::json!({"type":3,"timestamp":1003,"data":{"source":0,"removes":[],"attributes":[],
          "texts":[{"id":8,"value":"LATER2CANARY"}],
          "adds":[{"parentId":21,"nextId":null,"node":{"type":3,"id":22,"textContent":"CHILDFIRSTCANARY"}},
                  {"parentId":12,"nextId":null,"node":{"type":3,"id":23,"textContent":"UNDERBLOCKCANARY"}},
                  {"parentId":9,"nextId":null,"node":{"type":2,"id":21,"tagName":"span","attributes":{"class":"ph-mask"},"childNodes":[]}}]}}),
        ),
        ev(
            serde_json::json!({"type":3,"timestamp":1004,"data":{"source":5,"id":6,"text":"TYPEDCANARY","isChecked":false}}),
        ),
        ev(
            serde_json::json!({"type":6,"timestamp":1005,"data":{"plugin":"rrweb/console@1","payload":{"level":"log","trace":[],"payload":["\"mail zelda.canary@example.com\""]}}}),
        ),
        ev(
            serde_json::json!({"type":6,"timestamp":1006,"data":{"plugin":"rrweb/network@1","payload":{"requests":[{
            "name":"https://api.example/pay?card=4111111111111111&token=TOKCANARY2","method":"POST","initiatorType":"fetch","status":200,
            "requestHeaders":{"Authorization":"Basic HEADERCANARY","Content-Type":"application/json","X-Trace":"Bearer abcdefghijklmnop"},
            "responseHeaders":{"Set-Cookie":"sid=COOKIECANARY"},
            "requestBody":"{\"card\":\"4111 1111 1111 1111\"}",
            "responseBody":"{\"email\":\"zelda.canary@example.com\",\"phone\":\"+1-555-0142\"}"}]}}}),
        ),
        ev(
            serde_json::json!({"type":5,"timestamp":1007,"data":{"tag":"$pageview","payload":{"href":"https://shop.example/done?token=TOKCANARY3"}}}),
        ),
    ];
    let mut s = reel_format::Session::new("generated-session-0001");
    s.distinct_id = Some("zelda.canary@example.com".into());
    s.person = Some(serde_json::json!({"name": "Zelda Canary"}));
    s.window_mut("1").events = events;
    Recording {
        sessions: vec![s],
        warnings: vec![],
    }
}

#[test]
fn generated_recording_has_no_canary_left() {
    let rules = r#"
extends = "default"
[urls]
query_params = ["token", "email", "card"]
[media]
block_images = true
[metadata]
drop_person = true
hash_distinct_id = true
hash_key = "test-key"
[[patterns.custom]]
name = "canary words"
regex = '[A-Z0-9]+CANARY\b'
[[patterns.custom]]
name = "person name"
regex = 'Zelda Canary'
"#;
    let r = Redactor::from_toml(rules).unwrap();
    let rec = generated();
    let (pkg, report) = redact_package(rec, &r);
    let canaries: Vec<String> = [
        "Zelda Canary",
        "zelda.canary",
        "4111 1111 1111 1111",
        "4111111111111111",
        "+1-555-0142",
        "TOKCANARY",
        "HEADERCANARY",
        "COOKIECANARY",
        "VALCANARY",
        "TYPEDCANARY",
        "LATER2CANARY",
        "CHILDFIRSTCANARY",
        "UNDERBLOCKCANARY",
        "BLOCKCANARY",
        "abcdefghijklmnop",
        "face.png",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_clean(&pkg, &canaries);
    let c = &report.counts;
    assert!(c.rule("network.drop_headers") == 2, "{c:#?}");
    assert!(c.rule("metadata.drop_person") == 1 && c.rule("metadata.hash_distinct_id") == 1);
    assert!(c.rule("query_param token") == 3, "{c:#?}");
    assert!(c.rule("block [data-reel-block]") >= 1, "{c:#?}");
    assert!(c.rule("media.block_images") >= 1, "{c:#?}");
    // The text shown before the class arrived is masked by a synthetic text mutation from then on.
    let out = entries(&pkg)
        .into_iter()
        .find(|(n, _)| n.ends_with(".jsonl"))
        .unwrap()
        .1;
    let out = String::from_utf8(out).unwrap();
    let third: Value = serde_json::from_str(out.lines().nth(2).unwrap()).unwrap();
    assert_eq!(third["data"]["texts"][0]["id"], 8);
    assert_eq!(
        third["data"]["texts"][0]["value"],
        "*********** ***** ******"
    );
}

#[test]
fn presets_compile_and_strict_masks_all_text() {
    let strict = Redactor::preset("strict").unwrap();
    let mut rec = rrweb_checkout();
    let rep = strict.session(&mut rec.sessions[0]).unwrap();
    assert!(
        rep.counts.by_field.get("text").copied().unwrap_or(0) > 10,
        "{rep:#?}"
    );
    let html = {
        let mut dom = reel_dom::Dom::new();
        for e in &rec.sessions[0].windows[0].events {
            dom.apply(&e.to_value().unwrap());
        }
        dom.html()
    };
    assert!(!html.contains("Checkout"), "all text masked");
    assert!(Redactor::preset("default").is_ok());
    assert!(Redactor::preset("lax").is_err());
}

/// Sibling-dependent selectors are checked again when a sibling goes: after the first `<li>` is
/// removed, the second one is the first child, so its text (current and later) is masked.
#[test]
fn removing_a_sibling_makes_the_next_one_match() {
    let ev = |v: Value| Event::parse(v.to_string()).unwrap();
    let events = vec![
        ev(
            serde_json::json!({"type":4,"timestamp":1000,"data":{"href":"https://x.example/","width":800,"height":600}}),
        ),
        ev(
            serde_json::json!({"type":2,"timestamp":1001,"data":{"initialOffset":{"top":0,"left":0},"node":
            {"type":0,"id":1,"childNodes":[{"type":2,"id":2,"tagName":"html","attributes":{},"childNodes":[
              {"type":2,"id":3,"tagName":"ul","attributes":{},"childNodes":[
                {"type":2,"id":4,"tagName":"li","attributes":{},"childNodes":[{"type":3,"id":5,"textContent":"FIRSTCANARY"}]},
                {"type":2,"id":6,"tagName":"li","attributes":{},"childNodes":[{"type":3,"id":7,"textContent":"visible second"}]}
              ]}]}]}}}),
        ),
        ev(
            serde_json::json!({"type":3,"timestamp":1002,"data":{"source":0,"texts":[],"attributes":[],"adds":[],
            "removes":[{"parentId":3,"id":4}]}}),
        ),
        ev(
            serde_json::json!({"type":3,"timestamp":1003,"data":{"source":0,"removes":[],"attributes":[],"adds":[],
            "texts":[{"id":7,"value":"NOWFIRSTCANARY"}]}}),
        ),
    ];
    let r = Redactor::from_toml("mask_text = [\"li:first-child\"]").unwrap();
    let mut w = r.window();
    let out: Vec<String> = events
        .into_iter()
        .filter_map(|e| w.event(e).unwrap())
        .map(|e| e.json().to_string())
        .collect();
    let all = out.join("\n");
    assert!(!all.contains("FIRSTCANARY"), "{all}");
    // Before the removal the second item did not match: its text was shown as recorded.
    assert!(out[1].contains("visible second"), "{}", out[1]);
    // The removal masks its current text in the same mutation (same length, so layout holds).
    let m: Value = serde_json::from_str(&out[2]).unwrap();
    let texts = m["data"]["texts"].as_array().unwrap();
    let t = texts
        .iter()
        .find(|t| t["id"] == 7)
        .expect("a masking text for the new first child");
    let v = t["value"].as_str().unwrap();
    assert_eq!(v.chars().count(), "visible second".len());
    assert!(v.chars().all(|c| c == '*' || c == ' '), "{v}");
}
