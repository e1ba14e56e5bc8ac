//! Rules-file errors: one line, with the place, naming the problem.
use reel_redact::{Redactor, Rules};

fn err(text: &str) -> String {
    match Redactor::from_toml(text) {
        Ok(_) => panic!("accepted: {text}"),
        Err(e) => {
            let s = e.to_string();
            assert!(!s.contains('\n'), "one line: {s}");
            s
        }
    }
}

#[test]
fn unknown_keys_are_named_with_their_line() {
    let e = err("name = \"x\"\nmask_txt = [\".a\"]\n");
    assert!(
        e.starts_with("line 2, column 1: unknown field `mask_txt`"),
        "{e}"
    );
    let e = err("[mask_inputs]\nal = true\n");
    assert!(e.starts_with("line 2, column 1: unknown field `al`"), "{e}");
    let e = err("[network]\ndrop_header = []\n");
    assert!(e.contains("unknown field `drop_header`"), "{e}");
}

#[test]
fn bad_selectors_and_regexes_name_their_line() {
    let e = err("block = [\n  \".ok\",\n  \"div >\",\n]\n");
    assert!(
        e.starts_with("line 3, column 3: block: invalid CSS selector \"div >\""),
        "{e}"
    );
    let e = err("mask_text = [\"a:hover\"]\n");
    assert!(
        e.contains("mask_text: invalid CSS selector \"a:hover\""),
        "{e}"
    );
    let e = err("[[patterns.custom]]\nname = \"x\"\nregex = 'a(b'\n");
    assert!(
        e.starts_with("line 3, column 9: patterns.custom \"x\": bad regex"),
        "{e}"
    );
    let e = err("[[patterns.custom]]\nname = \"x\"\nregex = 'a*'\n");
    assert!(e.contains("matches the empty string"), "{e}");
    let e = err("[patterns]\nbuiltin = [\"emali\"]\n");
    assert!(
        e.starts_with("line 2, column 12: patterns.builtin: unknown pattern \"emali\""),
        "{e}"
    );
    let e = err("[network]\ndrop_bodies = ['(']\n");
    assert!(e.contains("network.drop_bodies: bad regex"), "{e}");
}

#[test]
fn wrong_types_and_sizes_are_errors() {
    let e = err("block = \".a\"\n");
    assert!(e.starts_with("line 1"), "{e}");
    let e = err("extends = \"lax\"\n");
    assert!(e.contains("no such preset"), "{e}");
    let big = format!(
        "name = \"{}\"\n",
        "x".repeat(reel_redact::rules::MAX_RULES_BYTES)
    );
    assert!(err(&big).contains("larger than"));
}

#[test]
fn hash_is_canonical() {
    let a =
        Rules::from_toml("# comment\nmask_text = [\".a\"]\n[mask_inputs]\nall = true\n").unwrap();
    let b = Rules::from_toml("[mask_inputs]\nall=true\n\n[metadata]\nhash_key = \"secret\"\n")
        .map(|mut r| {
            r.mask_text = a.mask_text.clone();
            r
        })
        .unwrap();
    assert_eq!(
        a.sha256(),
        b.sha256(),
        "formatting, comments and the key do not count"
    );
    let c = Rules::from_toml("mask_text = [\".b\"]\n").unwrap();
    assert_ne!(a.sha256(), c.sha256());
    // Extending a preset equals writing it out.
    let d = Rules::from_toml("extends = \"default\"\nname = \"preset:default\"\n").unwrap();
    assert_eq!(d.sha256(), Rules::preset("default").unwrap().sha256());
}

#[test]
fn redactor_is_shareable() {
    fn send_sync<T: Send + Sync + Clone>() {}
    send_sync::<Redactor>();
    fn send<T: Send>() {}
    send::<reel_redact::WindowRedactor>();
}

/// What an importer kept of the source's listing (PostHog's `person` and `distinct_id`, Sentry's
/// `user`, start URLs) is redacted like the session's own facts, not carried raw into an export.
#[test]
fn source_listing_facts_follow_the_metadata_and_url_rules() {
    let rules = Rules::from_toml(
        "[urls]\nquery_params = [\"token\"]\n[metadata]\ndrop_person = true\nhash_distinct_id = true\nhash_key = \"k\"\n",
    )
    .unwrap();
    let r = Redactor::compile(rules, None).unwrap();
    let mut extra: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
        r#"{"posthog": {"distinct_id": "ann", "person": {"properties": {"email": "ann@example.com"}},
              "start_url": "https://shop.example/p?token=s3cret&x=1", "urls": ["https://a.example/?token=t0k"],
              "click_count": 3},
            "sentry": {"user": {"email": "bob@example.com", "ip_address": "10.0.0.1"}, "urls": []}}"#,
    )
    .unwrap();
    let (mut d, mut p) = (Some("ann".to_string()), None);
    let mut counts = Default::default();
    r.session_facts(&mut d, &mut p, &mut extra, &mut counts);
    let text = serde_json::to_string(&extra).unwrap();
    for secret in [
        "ann@example.com",
        "bob@example.com",
        "10.0.0.1",
        "s3cret",
        "t0k",
        "\"ann\"",
    ] {
        assert!(!text.contains(secret), "{secret} kept: {text}");
    }
    assert_eq!(
        extra["posthog"]["distinct_id"],
        serde_json::json!(d.unwrap())
    );
    assert_eq!(extra["posthog"]["click_count"], 3, "other fields stay");
    assert!(extra["posthog"]["start_url"]
        .as_str()
        .unwrap()
        .starts_with("https://shop.example/p?token="));
}

#[test]
fn free_text_gets_the_text_patterns() {
    let r = Redactor::from_toml(
        "[patterns]\nbuiltin = [\"email\"]\n[[patterns.custom]]\nname = \"order\"\nregex = 'ORD-[0-9]{6}'\n",
    )
    .unwrap();
    let mut counts = reel_redact::Counts::default();
    let mut s = "ana@example.com could not pay ORD-123456\nsee again".to_string();
    assert!(r.free_text(&mut s, &mut counts));
    assert!(
        !s.contains("ana@example.com") && !s.contains("ORD-123456"),
        "{s}"
    );
    assert!(s.ends_with("\nsee again"), "{s}");
    assert_eq!(counts.total(), 2);
    let mut plain = "nothing to hide here".to_string();
    assert!(!r.free_text(&mut plain, &mut counts));
    assert_eq!(plain, "nothing to hide here");
}
