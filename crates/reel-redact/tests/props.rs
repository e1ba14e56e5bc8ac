//! Property tests: random pages and random mutation sequences. Text under a `block`ed or
//! `mask_text`ed element never shows in the replay of the redacted events, whatever the order of
//! the mutations (classes added later, nodes moved under a blocked element, children added before
//! their parent).
use proptest::prelude::*;
use reel_dom::{Dom, NodeData, NodeId};
use reel_format::Event;
use reel_redact::Redactor;
use serde_json::{json, Value};

const RULES: &str = r#"
block = [".blk"]
mask_text = [".msk"]
"#;

const CLASSES: &[&str] = &["", "a", "blk", "msk", "a msk", "b"];

#[derive(Debug, Clone)]
enum Op {
    AddElement {
        parent: u16,
        class: u8,
        child_first: bool,
    },
    AddText {
        parent: u16,
    },
    SetText {
        node: u16,
    },
    SetClass {
        node: u16,
        class: u8,
    },
    Remove {
        node: u16,
    },
    Move {
        node: u16,
        parent: u16,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<u16>(), 0..CLASSES.len() as u8, any::<bool>()).prop_map(
            |(parent, class, child_first)| Op::AddElement {
                parent,
                class,
                child_first
            }
        ),
        any::<u16>().prop_map(|parent| Op::AddText { parent }),
        any::<u16>().prop_map(|node| Op::SetText { node }),
        (any::<u16>(), 0..CLASSES.len() as u8)
            .prop_map(|(node, class)| Op::SetClass { node, class }),
        any::<u16>().prop_map(|node| Op::Remove { node }),
        (any::<u16>(), any::<u16>()).prop_map(|(node, parent)| Op::Move { node, parent }),
    ]
}

/// Serialize a node of the model DOM as rrweb does (with children).
fn serialize(dom: &Dom, id: NodeId) -> Value {
    let n = dom.get(id).unwrap();
    match &n.data {
        NodeData::Element { tag, attrs, .. } => {
            let a: serde_json::Map<String, Value> = attrs
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            json!({"type":2,"id":id,"tagName":tag,"attributes":a,
                   "childNodes": dom.children(id).into_iter().map(|c| serialize(dom, c)).collect::<Vec<_>>()})
        }
        NodeData::Text { text, .. } => json!({"type":3,"id":id,"textContent":text}),
        _ => json!({"type":5,"id":id,"textContent":""}),
    }
}

struct Gen {
    model: Dom,
    next_id: NodeId,
    next_token: u32,
    ts: i64,
    events: Vec<Value>,
}

impl Gen {
    fn token(&mut self) -> String {
        self.next_token += 1;
        format!("TOK{}Z", self.next_token)
    }
    fn elements(&self) -> Vec<NodeId> {
        let root = self.model.root().unwrap();
        self.model
            .subtree(root)
            .into_iter()
            .filter(|i| {
                self.model
                    .get(*i)
                    .unwrap()
                    .tag()
                    .is_some_and(|t| t != "html")
            })
            .collect()
    }
    fn nodes(&self, text: bool) -> Vec<NodeId> {
        let root = self.model.root().unwrap();
        self.model
            .subtree(root)
            .into_iter()
            .filter(|i| {
                let n = self.model.get(*i).unwrap();
                if text {
                    n.text().is_some()
                } else {
                    n.tag().is_some_and(|t| t != "html" && t != "body")
                }
            })
            .collect()
    }
    fn push(&mut self, data: Value) {
        self.ts += 1;
        let mut d = data;
        d["source"] = json!(0);
        for k in ["adds", "removes", "texts", "attributes"] {
            if d.get(k).is_none() {
                d[k] = json!([]);
            }
        }
        let e = json!({"type":3,"timestamp":self.ts,"data":d});
        self.model.apply(&e);
        self.events.push(e);
    }
    fn apply(&mut self, op: &Op) {
        let pick = |v: &[NodeId], i: u16| -> Option<NodeId> {
            (!v.is_empty()).then(|| v[i as usize % v.len()])
        };
        match op {
            Op::AddElement {
                parent,
                class,
                child_first,
            } => {
                let Some(p) = pick(&self.elements(), *parent) else {
                    return;
                };
                let (e, t) = (self.next_id, self.next_id + 1);
                self.next_id += 2;
                let tok = self.token();
                let el = json!({"parentId":p,"nextId":null,"node":{"type":2,"id":e,"tagName":"div","attributes":{"class":CLASSES[*class as usize]},"childNodes":[]}});
                let tx =
                    json!({"parentId":e,"nextId":null,"node":{"type":3,"id":t,"textContent":tok}});
                let adds = if *child_first {
                    vec![tx, el]
                } else {
                    vec![el, tx]
                };
                self.push(json!({"adds":adds}));
            }
            Op::AddText { parent } => {
                let Some(p) = pick(&self.elements(), *parent) else {
                    return;
                };
                let t = self.next_id;
                self.next_id += 1;
                let tok = self.token();
                self.push(json!({"adds":[{"parentId":p,"nextId":null,"node":{"type":3,"id":t,"textContent":tok}}]}));
            }
            Op::SetText { node } => {
                let Some(n) = pick(&self.nodes(true), *node) else {
                    return;
                };
                let tok = self.token();
                self.push(json!({"texts":[{"id":n,"value":tok}]}));
            }
            Op::SetClass { node, class } => {
                let Some(n) = pick(&self.nodes(false), *node) else {
                    return;
                };
                self.push(json!({"attributes":[{"id":n,"attributes":{"class":CLASSES[*class as usize]}}]}));
            }
            Op::Remove { node } => {
                let Some(n) = pick(&self.nodes(false), *node) else {
                    return;
                };
                let p = self.model.parent(n).unwrap();
                self.push(json!({"removes":[{"parentId":p,"id":n}]}));
            }
            Op::Move { node, parent } => {
                let Some(n) = pick(&self.nodes(false), *node) else {
                    return;
                };
                let Some(p) = pick(&self.elements(), *parent) else {
                    return;
                };
                if self.model.subtree(n).contains(&p) {
                    return;
                }
                let old = self.model.parent(n).unwrap();
                let ser = serialize(&self.model, n);
                self.push(json!({"removes":[{"parentId":old,"id":n}],"adds":[{"parentId":p,"nextId":null,"node":ser}]}));
            }
        }
    }
}

/// Whether a node of the real page sits in (or is) an element with class blk or msk.
fn covered(dom: &Dom, id: NodeId) -> bool {
    let has = |n: &reel_dom::Node| {
        n.attr("class")
            .is_some_and(|c| c.split_whitespace().any(|x| x == "blk" || x == "msk"))
    };
    dom.get(id).is_some_and(has) || dom.ancestors(id).any(has)
}

fn initial(classes: &[u8]) -> (Value, NodeId, u32) {
    let mut kids = Vec::new();
    let mut id = 10;
    let mut tok = 0;
    for c in classes {
        tok += 1;
        kids.push(json!({"type":2,"id":id,"tagName":"div","attributes":{"class":CLASSES[*c as usize % CLASSES.len()]},
            "childNodes":[{"type":3,"id":id+1,"textContent":format!("TOK{tok}Z")}]}));
        id += 2;
    }
    let snap = json!({"type":2,"timestamp":1,"data":{"initialOffset":{"top":0,"left":0},"node":
        {"type":0,"id":1,"childNodes":[{"type":2,"id":2,"tagName":"html","attributes":{},"childNodes":[
          {"type":2,"id":3,"tagName":"body","attributes":{},"childNodes":kids}]}]}}});
    (snap, id, tok)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn covered_text_never_shows(classes in proptest::collection::vec(0u8..6, 1..6), ops in proptest::collection::vec(op(), 0..40)) {
        let (snap, next_id, next_token) = initial(&classes);
        let mut g = Gen { model: Dom::new(), next_id, next_token, ts: 1, events: vec![] };
        g.model.apply(&snap);
        g.events.push(snap);
        for o in &ops {
            g.apply(o);
        }
        let r = Redactor::from_toml(RULES).unwrap();
        let mut w = r.window();
        let mut real = Dom::new();
        let mut player = Dom::new();
        let mut out_text = String::new();
        let mut shown_plain = std::collections::HashSet::new();
        for e in &g.events {
            real.apply(e);
            let Some(o) = w.event(Event::parse(e.to_string()).unwrap()).unwrap() else { continue };
            out_text.push_str(o.json());
            let ov: Value = serde_json::from_str(o.json()).unwrap();
            player.apply(&ov);
            // What the replay shows now: every visible, unmasked text must be uncovered on the real page.
            let Some(root) = player.root() else { continue };
            for id in player.subtree(root) {
                let Some(t) = player.get(id).and_then(|n| n.text()) else { continue };
                if t.contains("TOK") {
                    prop_assert!(!covered(&real, id), "text {t} of node {id} shows although covered");
                    shown_plain.insert(t.to_string());
                }
            }
        }
        // A token first written under a covering element never appears anywhere in the output.
        let mut seen_uncovered = std::collections::HashSet::new();
        let mut real = Dom::new();
        for e in &g.events {
            real.apply(e);
            if let Some(root) = real.root() {
                for id in real.subtree(root) {
                    if let Some(t) = real.get(id).and_then(|n| n.text()) {
                        if !covered(&real, id) {
                            seen_uncovered.insert(t.to_string());
                        }
                    }
                }
            }
        }
        let mut all = Dom::new();
        let mut tokens = std::collections::HashSet::new();
        for e in &g.events {
            all.apply(e);
            if let Some(root) = all.root() {
                for id in all.subtree(root) {
                    if let Some(t) = all.get(id).and_then(|n| n.text()) {
                        tokens.insert(t.to_string());
                    }
                }
            }
        }
        for t in tokens {
            if !seen_uncovered.contains(&t) {
                prop_assert!(!out_text.contains(&format!("\"{t}\"")), "covered token {t} leaked");
            }
        }
    }
}
