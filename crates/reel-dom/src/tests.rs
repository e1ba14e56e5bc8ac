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
