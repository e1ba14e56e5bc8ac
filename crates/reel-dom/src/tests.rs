use super::*;
use serde_json::json;

fn snapshot() -> Value {
    json!({"type":2,"timestamp":1,"data":{"initialOffset":{"top":0,"left":0},"node":
    {"type":0,"id":1,"childNodes":[
      {"type":1,"id":2,"name":"html","publicId":"","systemId":""},
      {"type":2,"id":3,"tagName":"html","attributes":{},"childNodes":[
        {"type":2,"id":4,"tagName":"body","attributes":{"class":"page"},"childNodes":[
          {"type":2,"id":5,"tagName":"div","attributes":{"class":"secret","id":"s"},"childNodes":[
            {"type":3,"id":6,"textContent":"SECRET"}]},
          {"type":2,"id":7,"tagName":"input","attributes":{"type":"text","value":"v"},"childNodes":[]}
        ]}]}]}}})
}

fn mutation(d: Value) -> Value {
    let mut d = d;
    d["source"] = json!(0);
    json!({"type":3,"timestamp":2,"data":d})
}

#[test]
fn snapshot_builds_and_serialises() {
    let mut dom = Dom::new();
    let ch = dom.apply(&snapshot());
    assert!(ch.rebuilt);
    assert_eq!(dom.len(), 7);
    assert_eq!(
        dom.html(),
        r#"<!DOCTYPE html><html><body class="page"><div class="secret" id="s">SECRET</div><input type="text" value="v"></body></html>"#
    );
    assert_eq!(dom.parent(6), Some(5));
    let anc: Vec<i64> = dom.ancestors(6).map(|n| n.id).collect();
    assert_eq!(anc, vec![5, 4, 3, 1]);
}

#[test]
fn selectors_match() {
    let mut dom = Dom::new();
    dom.apply(&snapshot());
    let s = Selector::parse("body > .secret, input[type=text]").unwrap();
    assert_eq!(dom.select(&s), vec![5, 7]);
    assert!(dom.matches(5, &Selector::parse("#s").unwrap()));
    assert!(dom.matches(
        5,
        &Selector::parse(":is(div, p).secret:first-child").unwrap()
    ));
    assert!(!dom.matches(6, &s), "text nodes never match");
    let e = Selector::parse("div >").unwrap_err();
    assert!(e.to_string().contains("column"), "{e}");
    assert!(Selector::parse("a:hover").is_err());
    assert!(Selector::parse("[[").is_err());
}

#[test]
fn mutations_apply_in_rrweb_order_with_queued_adds() {
    let mut dom = Dom::new();
    dom.apply(&snapshot());
    // Child (11) arrives before its parent (10); 12 is inserted before 11 (nextId).
    let ch = dom.apply(&mutation(json!({
        "removes":[{"parentId":4,"id":7}],
        "adds":[
          {"parentId":10,"nextId":null,"node":{"type":3,"id":11,"textContent":"late"}},
          {"parentId":10,"nextId":11,"node":{"type":3,"id":12,"textContent":"first "}},
          {"parentId":4,"nextId":null,"node":{"type":2,"id":10,"tagName":"p","attributes":{},"childNodes":[]}}
        ],
        "texts":[{"id":6,"value":"CHANGED"}],
        "attributes":[{"id":5,"attributes":{"class":"open","style":{"color":"red","width":["1px","important"]}}}]
    })));
    assert_eq!(ch.removed, vec![7]);
    assert!(ch.orphaned.is_empty());
    assert_eq!(
        dom.outer_html(4),
        r#"<body class="page"><div class="open" id="s" style="color: red; width: 1px !important;">CHANGED</div><p>first late</p></body>"#
    );
    dom.apply(&mutation(
        json!({"attributes":[{"id":5,"attributes":{"style":{"color":false},"id":null}}]}),
    ));
    assert_eq!(
        dom.get(5).unwrap().attrs(),
        &[
            ("class".to_string(), "open".to_string()),
            ("style".to_string(), "width: 1px !important;".to_string())
        ]
    );
}

#[test]
fn inputs_set_values_and_shadow_and_iframes_nest() {
    let mut dom = Dom::new();
    dom.apply(&snapshot());
    dom.apply(&json!({"type":3,"timestamp":3,"data":{"source":5,"id":7,"text":"typed","isChecked":false}}));
    assert_eq!(dom.get(7).unwrap().attr("value"), Some("typed"));
    dom.apply(&mutation(json!({"adds":[
        {"parentId":4,"nextId":null,"node":{"type":2,"id":20,"tagName":"x-host","attributes":{},"childNodes":[],"isShadowHost":true}},
        {"parentId":20,"nextId":null,"node":{"type":2,"id":21,"tagName":"span","attributes":{},"childNodes":[{"type":3,"id":22,"textContent":"in shadow"}],"isShadow":true}},
        {"parentId":4,"nextId":null,"node":{"type":2,"id":30,"tagName":"iframe","attributes":{},"childNodes":[]}},
        {"parentId":30,"nextId":null,"node":{"type":0,"id":31,"rootId":31,"childNodes":[{"type":2,"id":32,"tagName":"html","rootId":31,"attributes":{},"childNodes":[]}]}}
    ]})));
    let html = dom.html();
    assert!(
        html.contains(
            r#"<x-host><template shadowrootmode="open"><span>in shadow</span></template></x-host>"#
        ),
        "{html}"
    );
    assert!(html.contains("<iframe><html></html></iframe>"), "{html}");
    let anc: Vec<i64> = dom.ancestors(32).map(|n| n.id).collect();
    assert_eq!(anc, vec![31, 30, 4, 3, 1]);
    assert!(dom.matches(21, &Selector::parse("x-host span").unwrap()));
}

#[test]
fn moving_a_node_replaces_the_old_copy() {
    let mut dom = Dom::new();
    dom.apply(&snapshot());
    dom.apply(&mutation(
        json!({"adds":[{"parentId":4,"nextId":5,"node":{"type":3,"id":6,"textContent":"moved"}}]}),
    ));
    assert_eq!(dom.parent(6), Some(4));
    assert_eq!(dom.children(5), Vec::<i64>::new());
    assert_eq!(dom.children(4), vec![6, 5, 7]);
}

#[test]
fn duplicate_ids_never_panic() {
    // Found by fuzzing: a child reusing its ancestor's id.
    let mut dom = Dom::new();
    dom.apply(&json!({"type":2,"timestamp":1,"data":{"node":{"type":0,"id":1,"childNodes":[
        {"type":2,"id":2,"tagName":"p","attributes":{},"childNodes":[{"type":2,"id":1,"tagName":"b","attributes":{}},{"type":3,"id":2,"textContent":"x"}]}]}}}));
    assert_eq!(dom.html(), "<p></p>");
    dom.apply(&mutation(json!({"adds":[{"parentId":2,"nextId":null,"node":{"type":2,"id":5,"tagName":"i","attributes":{},"childNodes":[{"type":2,"id":2,"tagName":"u","attributes":{}}]}}]})));
    let _ = dom.html();
}

/// The cheap pre-check before a full selector match never turns a match away: on a page with
/// HTML and SVG elements (mixed-case tag and attribute names), every selector matches exactly the
/// elements the full match alone finds.
#[test]
fn selector_precheck_agrees_with_the_full_match() {
    let mut dom = Dom::new();
    dom.apply(&json!({"type":2,"timestamp":1,"data":{"initialOffset":{"top":0,"left":0},"node":
    {"type":0,"id":1,"childNodes":[
      {"type":2,"id":2,"tagName":"html","attributes":{},"childNodes":[
        {"type":2,"id":3,"tagName":"body","attributes":{"id":"main","class":"a  b"},"childNodes":[
          {"type":2,"id":4,"tagName":"div","attributes":{"class":"b","data-x":"1"},"childNodes":[
            {"type":2,"id":5,"tagName":"p","attributes":{"class":"a"},"childNodes":[]},
            {"type":2,"id":6,"tagName":"p","attributes":{},"childNodes":[]}]},
          {"type":2,"id":7,"tagName":"svg","isSVG":true,"attributes":{"viewBox":"0 0 1 1"},"childNodes":[
            {"type":2,"id":8,"tagName":"foreignObject","isSVG":true,"attributes":{"class":"A"},"childNodes":[]}]},
          {"type":2,"id":9,"tagName":"a","attributes":{"href":"/x","DATA-Y":""},"childNodes":[]},
          {"type":2,"id":10,"tagName":"INPUT","attributes":{"type":"email"},"childNodes":[]}
        ]}]}]}}}));
    let selectors = [
        "div",
        "DIV",
        "p",
        "input",
        "INPUT",
        "foreignObject",
        "foreignobject",
        "svg foreignObject",
        "[viewBox]",
        "[viewbox]",
        "[data-x]",
        "[data-x=\"1\"]",
        "[DATA-X]",
        "[data-y]",
        "[DATA-Y]",
        "#main",
        "#MAIN",
        ".a",
        ".A",
        ".a.b",
        "body.a.b",
        ".b > .a",
        "p:not(.a)",
        "*",
        "a, #main",
        "div p:first-child",
        "p + p",
        "input[type=email]",
        ":is(.a, svg)",
        "svg *",
        "body > *",
    ];
    let elements: Vec<NodeId> = (1..=10).collect();
    for text in selectors {
        let quick = crate::Selector::parse(text).unwrap();
        let full = quick.without_precheck();
        for &id in &elements {
            assert_eq!(
                dom.matches(id, &quick),
                dom.matches(id, &full),
                "selector {text:?} on node {id}"
            );
        }
    }
}

// ---- the typed reader (`apply_json`) against the `Value` path (`apply`) --------------------

/// Everything a DOM holds: every live node with its parent, children, data and shadow flag.
fn dump(dom: &Dom) -> String {
    let mut ids: Vec<NodeId> = dom.index.keys().copied().collect();
    ids.sort();
    let mut out = format!("root {:?}\n", dom.root());
    for id in ids {
        let n = dom.get(id).unwrap();
        out += &format!(
            "{id} parent {:?} kids {:?} shadow {} {:?}\n",
            dom.parent(id),
            dom.children(id),
            n.shadow,
            n.data
        );
    }
    out
}

/// Apply `events` both ways; after each, the DOMs and the changes must be the same.
fn same_both_ways(events: &[Value]) {
    let (mut a, mut b) = (Dom::new(), Dom::new());
    for (i, e) in events.iter().enumerate() {
        let ca = a.apply(e);
        let cb = b.apply_json(&e.to_string()).expect("JSON");
        assert_eq!(ca, cb, "changes of event {i}: {e}");
        assert_eq!(dump(&a), dump(&b), "DOM after event {i}: {e}");
    }
}

#[test]
fn typed_reader_equals_value_path_on_recordings() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/rrweb");
    let mut n = 0;
    for f in std::fs::read_dir(dir).unwrap() {
        let events: Vec<Value> =
            serde_json::from_slice(&std::fs::read(f.unwrap().path()).unwrap()).unwrap();
        n += events.len();
        same_both_ways(&events);
    }
    assert!(n > 500, "{n} events");
}

#[test]
fn typed_reader_equals_value_path_on_odd_shapes() {
    let snap = snapshot();
    let odd = [
        // Ids and types as floats and huge numbers, attribute values of every JSON type.
        json!({"type":2.0,"data":{"node":{"type":0,"id":1.0,"childNodes":[
            {"type":2,"id":2.9,"tagName":"DIV","attributes":{"a":1,"b":true,"c":false,"d":null,"e":"x","f":1.5,"g":[1],"h":{"k":1},"a":"again"},
             "isSVG":true,"childNodes":[{"type":3,"id":3,"textContent":"t","isStyle":true},{"type":5,"id":4,"textContent":"c"},
             {"type":4,"id":5},{"type":9,"id":6},{"type":2,"id":18446744073709551615u64,"tagName":"x"}, null, 7, {"id":"8"}]}]}}}),
        json!({"type":2,"data":{"node":null}}),
        json!({"type":2,"data":{"node":{"type":0,"id":1,"childNodes":{"not":"an array"}}}}),
        json!({"type":2,"data":null}),
        json!({"type":2,"data":{}}),
        json!({"type":"2","data":{"node":{"type":0,"id":1}}}),
    ];
    for o in &odd {
        same_both_ways(&[snap.clone(), o.clone()]);
    }
    let muts = [
        json!({"removes":[{"id":5},{"id":"6"},{"x":1},7],"adds":[],"texts":[],"attributes":[]}),
        json!({"adds":[{"parentId":4,"nextId":null,"node":{"type":2,"id":20,"tagName":"p","attributes":{},"childNodes":[{"type":3,"id":21,"textContent":"hi"}]}},
                       {"parentId":20,"nextId":21,"node":{"type":3,"id":22,"textContent":"first"}},
                       {"parentId":99,"node":{"type":3,"id":23,"textContent":"orphan"}},
                       {"parentId":4,"node":null},{"node":{"type":3,"id":24}},{"parentId":4},
                       {"parentId":4,"previousId":5,"node":{"type":3,"id":25,"textContent":"after 5"}},
                       {"parentId":6,"node":{"type":2,"id":4,"tagName":"cycle"}}]}),
        json!({"texts":[{"id":6,"value":"new"},{"id":5,"value":"el"},{"id":6,"value":null},{"id":6},{"id":6,"value":3}]}),
        json!({"attributes":[{"id":5,"attributes":{"class":"x","id":null,"style":{"color":"red","margin":["0","important"],"top":false}}},
                             {"id":7,"attributes":{"value":1.25,"data-x":{"a":1}}},{"id":5,"attributes":null},{"id":5,"attributes":[1]}]}),
        json!({"adds":[{"parentId":4.0,"nextId":7.0,"node":{"type":2,"id":30,"tagName":"b","isShadow":true,"attributes":{"k":"v","k":null}}}]}),
    ];
    for m in &muts {
        same_both_ways(&[snap.clone(), mutation(m.clone())]);
    }
    let input = |d: Value| json!({"type":3,"data":d});
    for d in [
        json!({"source":5,"id":7,"text":"typed"}),
        json!({"source":5,"id":7,"text":5}),
        json!({"source":5,"id":7,"isChecked":true}),
        json!({"source":5.0,"id":7.0,"text":null}),
        json!({"source":2,"type":1,"id":5}),
    ] {
        same_both_ways(&[snap.clone(), input(d)]);
    }
    // Deeper than serde_json's 128 levels: read through the Value path all the same.
    let mut deep = json!({"type":3,"id":1000,"textContent":"deep"});
    for i in 0..150 {
        deep = json!({"type":2,"id":1001 + i,"tagName":"div","childNodes":[deep]});
    }
    same_both_ways(&[
        snap.clone(),
        mutation(json!({"adds":[{"parentId":4,"node":deep}]})),
    ]);
    assert!(Dom::new().apply_json("not json").is_none());
}

proptest::proptest! {
    /// Random mutations over a small id space, with odd types mixed in: both readers agree.
    #[test]
    fn typed_reader_equals_value_path_on_random_mutations(ops in proptest::collection::vec(
        (0u8..6, 0i64..12, 0i64..12, proptest::option::of(0i64..12), 0u8..4), 1..30)) {
        let mut events = vec![snapshot()];
        for (op, a, b, next, odd) in ops {
            let id = |x: i64| match odd { 0 => json!(x as f64 + 0.5), 1 => json!(null), _ => json!(x) };
            let d = match op {
                0 => json!({"removes":[{"id":id(a)}]}),
                1 => json!({"adds":[{"parentId":id(a),"nextId":next.map(|n| json!(n)),"node":{"type":2,"id":b,"tagName":"i","attributes":{"n":odd},"childNodes":[{"type":3,"id":b+100,"textContent":"x"}]}}]}),
                2 => json!({"texts":[{"id":id(a),"value":if odd == 2 { json!(null) } else { json!("t") }}]}),
                3 => json!({"attributes":[{"id":id(a),"attributes":{"class":if odd == 3 { json!(false) } else { json!("c") },"style":{"color":"red"}}}]}),
                4 => json!({"adds":[{"parentId":a,"previousId":b,"node":{"type":3,"id":b + 200,"textContent":"p"}}],"removes":[{"id":next.unwrap_or(0)}]}),
                _ => json!({"adds":[{"parentId":a,"node":{"type":2,"id":b,"tagName":"loop","childNodes":[{"type":2,"id":a,"tagName":"self"}]}}]}),
            };
            events.push(mutation(d));
        }
        same_both_ways(&events);
    }
}

/// A node moved before (or after) a node inside itself: refused like a cycle. This freed the
/// anchor and panicked before (found by the random test below).
#[test]
fn a_move_anchored_inside_the_moved_node_is_refused() {
    let mut dom = Dom::new();
    dom.apply(&snapshot());
    let before = dump(&dom);
    for anchor in ["nextId", "previousId"] {
        let ch = dom.apply(&mutation(
            json!({"adds":[{"parentId":1, anchor: 7, "node":{"type":2,"id":3,"tagName":"html"}}]}),
        ));
        assert!(ch.added.is_empty());
        assert_eq!(dump(&dom), before);
    }
}

#[test]
fn typed_reader_equals_value_path_on_duplicate_keys() {
    // The last value wins at the first key's position (serde_json's preserve_order map); the
    // typed reader gives up on a duplicated field of its own and the Value path decides.
    let texts = [
        r#"{"type":2,"data":{"node":{"type":0,"id":1,"childNodes":[{"type":2,"id":2,"tagName":"a","attributes":{"x":"1","y":"2","x":null,"z":true,"y":"3"}}]}}}"#,
        r#"{"type":2,"data":{"node":{"type":0,"id":1,"id":9,"childNodes":[]}}}"#,
        r#"{"type":3,"data":{"source":0,"source":5,"id":2,"text":"v"}}"#,
        r#"{"type":3,"data":{"source":0,"adds":[{"parentId":1,"node":{"type":3,"id":5,"textContent":"a","textContent":"b"}}]}}"#,
    ];
    let (mut a, mut b) = (Dom::new(), Dom::new());
    for (i, t) in texts.iter().enumerate() {
        let v: Value = serde_json::from_str(t).unwrap();
        assert_eq!(a.apply(&v), b.apply_json(t).unwrap(), "{t}");
        assert_eq!(dump(&a), dump(&b), "{t}");
        if i == 0 {
            let kept = [
                ("y".to_string(), "3".to_string()),
                ("z".to_string(), String::new()),
            ];
            assert_eq!(b.get(2).unwrap().attrs(), &kept);
        }
    }
}
