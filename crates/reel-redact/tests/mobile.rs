//! Redaction of PostHog mobile recordings (wireframes instead of a DOM): patterns over texts,
//! values, labels and options, inputs masked by type, images and screenshots dropped on request;
//! everything else of the event byte for byte as it was.
use reel_format::Event;
use reel_redact::Redactor;
use serde_json::{json, Value};

fn ev(v: Value) -> Event {
    Event::parse(v.to_string()).unwrap()
}

const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";

fn events() -> Vec<Event> {
    vec![
        ev(
            json!({"type":4,"timestamp":1000,"data":{"href":"LoginScreen","width":393,"height":852}}),
        ),
        ev(
            json!({"type":2,"timestamp":1001,"data":{"initialOffset":{"top":0,"left":0},"wireframes":[
                {"id":1,"x":0,"y":0,"width":393,"height":852,"type":"div","childWireframes":[
                    {"id":2,"x":10,"y":10,"width":300,"height":20,"type":"text","text":"Hello ada@example.com"},
                    {"id":3,"x":10,"y":40,"width":300,"height":40,"type":"input","inputType":"email","value":"ada@example.com"},
                    {"id":4,"x":10,"y":90,"width":300,"height":40,"type":"input","inputType":"password","value":"hunter2hunter2"},
                    {"id":5,"x":10,"y":140,"width":300,"height":40,"type":"input","inputType":"select","value":"Visa 4111","options":["Visa 4111","Mastercard"]},
                    {"id":6,"x":10,"y":190,"width":300,"height":40,"type":"input","inputType":"toggle","checked":true,"label":"Mail me at bob@example.org"},
                    {"id":7,"x":10,"y":240,"width":64,"height":64,"type":"image","base64":format!("data:image/png;base64,{PNG}")},
                    {"id":8,"x":10,"y":310,"width":300,"height":40,"type":"web_view","url":"https://app.example/pay?token=abc123&x=1"}
                ]}
            ]}}),
        ),
        ev(
            json!({"type":3,"timestamp":1500,"data":{"source":0,"updates":[{"parentId":1,"wireframe":
            {"id":3,"x":10,"y":40,"width":300,"height":40,"type":"input","inputType":"email","value":"grace@example.net"}}]}}),
        ),
        ev(
            json!({"type":3,"timestamp":1600,"data":{"source":0,"adds":[{"parentId":1,"wireframe":
            {"id":9,"x":0,"y":0,"width":393,"height":852,"type":"screenshot","base64":format!("data:image/png;base64,{PNG}")}}]}}),
        ),
        ev(json!({"type":3,"timestamp":1700,"data":{"source":2,"type":9,"id":3,"x":20,"y":50}})),
    ]
}

fn run(rules: &str) -> (Vec<Value>, reel_redact::Counts) {
    let r = Redactor::from_toml(rules).unwrap();
    let mut w = r.window();
    let out: Vec<Value> = events()
        .into_iter()
        .filter_map(|e| w.event(e).unwrap())
        .map(|e| serde_json::from_str(e.json()).unwrap())
        .collect();
    (out, w.counts.clone())
}

fn find(events: &[Value], id: i64) -> Value {
    fn walk(v: &Value, id: i64) -> Option<Value> {
        match v {
            Value::Object(o) => {
                if o.get("id") == Some(&json!(id))
                    && o.contains_key("type")
                    && o.contains_key("width")
                {
                    return Some(v.clone());
                }
                o.values().find_map(|x| walk(x, id))
            }
            Value::Array(a) => a.iter().find_map(|x| walk(x, id)),
            _ => None,
        }
    }
    // The last version of wireframe `id` (updates come after the snapshot).
    events.iter().rev().find_map(|e| walk(e, id)).unwrap()
}

#[test]
fn patterns_mask_texts_values_labels_options_and_urls() {
    let (out, counts) =
        run("[patterns]\nbuiltin = [\"email\", \"card\"]\n[urls]\nquery_params = [\"token\"]\n");
    let all = serde_json::to_string(&out).unwrap();
    for secret in [
        "ada@example.com",
        "grace@example.net",
        "bob@example.org",
        "abc123",
    ] {
        assert!(!all.contains(secret), "{secret} left in {all}");
    }
    assert!(find(&out, 2)["text"]
        .as_str()
        .unwrap()
        .starts_with("Hello "));
    assert!(find(&out, 6)["label"]
        .as_str()
        .unwrap()
        .starts_with("Mail me at "));
    assert!(find(&out, 8)["url"].as_str().unwrap().contains("x=1"));
    // Not an input rule: the password stays as the SDK sent it (SDKs mask it themselves).
    assert_eq!(find(&out, 4)["value"], "hunter2hunter2");
    assert!(
        counts.by_rule.get("pattern email").copied().unwrap_or(0) >= 4,
        "{counts:?}"
    );
    // Images are kept without an image rule.
    assert!(find(&out, 7)["base64"]
        .as_str()
        .unwrap()
        .starts_with("data:image/png"));
}

#[test]
fn inputs_are_masked_by_type_and_images_dropped() {
    let (out, counts) = run(
        "[mask_inputs]\ntypes = [\"password\", \"email\", \"select\", \"checkbox\"]\n[media]\nblock_images = true\n",
    );
    let masked = |v: &Value| v.as_str().unwrap().chars().all(|c| c == '*' || c == ' ');
    assert!(masked(&find(&out, 3)["value"]), "{}", find(&out, 3));
    assert_eq!(
        find(&out, 3)["value"].as_str().unwrap().len(),
        "grace@example.net".len()
    );
    assert!(masked(&find(&out, 4)["value"]));
    let sel = find(&out, 5);
    assert!(masked(&sel["value"]));
    assert!(sel["options"].as_array().unwrap().iter().all(masked));
    // A toggle is a checkbox: its state is kept, it has no value to mask.
    assert_eq!(find(&out, 6)["checked"], true);
    assert!(find(&out, 7).get("base64").is_none());
    assert!(find(&out, 9).get("base64").is_none());
    assert_eq!(counts.by_rule["media.block_images"], 2);
    assert!(counts.by_rule["mask_inputs"] >= 5, "{counts:?}");
    // Positions, sizes, types and the tap are untouched.
    assert_eq!(find(&out, 7)["width"], 64);
    assert_eq!(
        out[4],
        serde_json::from_str::<Value>(events()[4].json()).unwrap()
    );
}

#[test]
fn events_without_anything_to_redact_stay_byte_identical() {
    let r = Redactor::from_toml("[patterns]\nbuiltin = [\"iban\"]\n").unwrap();
    let mut w = r.window();
    for e in events() {
        let before = e.json().to_string();
        let out = w.event(e).unwrap().unwrap();
        assert_eq!(out.json(), before);
    }
}
