//! # reel-dom
//!
//! A virtual DOM that replays rrweb events the way rrweb's Replayer does: a FullSnapshot builds
//! the page, each Mutation applies removes → adds (adds whose parent or `nextId` is not there yet
//! wait and are retried) → texts → attributes (a `style` value may be an object diff), and Input
//! events set values. Iframe documents (`rootId`) hang under their `<iframe>`; shadow roots are
//! children flagged `shadow`.
//!
//! At any moment it answers: which node has this rrweb id, what are its parent and ancestors, does
//! it match a CSS selector (servo's `selectors` crate, see [`Selector`]), and what is the page's
//! HTML ([`Dom::html`], [`Dom::outer_html`]).
//!
//! Events are fed one at a time ([`Dom::apply`]), so a caller such as the redactor walks a
//! recording once. Nodes live in an arena (a `Vec` of slots, freed slots reused); no unsafe code.
//!
//! This crate knows nothing about packages, rules or HTTP.
#![forbid(unsafe_code)]

mod html;
mod select;
mod wire;

use wire::{SerAdd, SerNode};

pub use select::{Selector, SelectorError};

use serde_json::{Map, Value};
use std::collections::HashMap;

/// Node-id index hasher: foldhash (fast, seeded per process) instead of SipHash.
type IdHasher = foldhash::fast::RandomState;

/// rrweb's node id.
pub type NodeId = i64;

/// What a node is (rrweb-snapshot's `NodeType`).
#[derive(Debug, Clone, PartialEq)]
pub enum NodeData {
    Document,
    Doctype {
        name: String,
        public_id: String,
        system_id: String,
    },
    Element {
        /// Lower-cased tag name.
        tag: String,
        attrs: Vec<(String, String)>,
        svg: bool,
    },
    Text {
        text: String,
        is_style: bool,
    },
    CData,
    Comment {
        text: String,
    },
}

/// One node of the tree.
#[derive(Debug, Clone)]
pub struct Node {
    pub id: NodeId,
    pub data: NodeData,
    /// A child of a shadow host that lives in its shadow root (`isShadow`).
    pub shadow: bool,
    /// Free for the caller (the redactor keeps per-node flags here). Reset when a node is re-added.
    pub user: u32,
    parent: Option<u32>,
    children: Vec<u32>,
}

impl Node {
    pub fn tag(&self) -> Option<&str> {
        match &self.data {
            NodeData::Element { tag, .. } => Some(tag),
            _ => None,
        }
    }
    pub fn attr(&self, name: &str) -> Option<&str> {
        match &self.data {
            NodeData::Element { attrs, .. } => attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str()),
            _ => None,
        }
    }
    pub fn attrs(&self) -> &[(String, String)] {
        match &self.data {
            NodeData::Element { attrs, .. } => attrs,
            _ => &[],
        }
    }
    pub fn text(&self) -> Option<&str> {
        match &self.data {
            NodeData::Text { text, .. } | NodeData::Comment { text } => Some(text),
            _ => None,
        }
    }
    pub fn is_element(&self) -> bool {
        matches!(self.data, NodeData::Element { .. })
    }
}

/// What one event changed, for callers that react to changes (ids in application order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    /// A FullSnapshot replaced the whole tree.
    pub rebuilt: bool,
    /// Roots of subtrees added by the event.
    pub added: Vec<NodeId>,
    /// Adds that never found their parent (dropped, as rrweb does).
    pub orphaned: Vec<NodeId>,
    pub removed: Vec<NodeId>,
    pub texts: Vec<NodeId>,
    /// Elements whose attributes changed.
    pub attributes: Vec<NodeId>,
    /// Elements whose value changed by an Input event.
    pub inputs: Vec<NodeId>,
}

/// The virtual DOM of one browser window.
#[derive(Debug, Default, Clone)]
pub struct Dom {
    slots: Vec<Option<Node>>,
    free: Vec<u32>,
    index: HashMap<NodeId, u32, IdHasher>,
    root: Option<u32>,
}

fn num(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_f64().map(|f| f as i64))
}

/// An attribute value as rrweb serialises it (`string | number | true | null`); `None` for null.
pub fn attr_value_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(true) => Some(String::new()),
        Value::Bool(false) => None,
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

impl Dom {
    pub fn new() -> Dom {
        Dom::default()
    }

    /// An estimate of the heap memory this DOM holds, bytes (for memory budgets; walks every node).
    pub fn approx_bytes(&self) -> usize {
        use std::mem::size_of;
        let mut n = self.slots.capacity() * size_of::<Option<Node>>()
            + self.free.capacity() * 4
            + self.index.capacity() * (size_of::<NodeId>() + 4 + 8);
        for node in self.slots.iter().flatten() {
            n += node.children.capacity() * 4;
            n += match &node.data {
                NodeData::Document | NodeData::CData => 0,
                NodeData::Doctype {
                    name,
                    public_id,
                    system_id,
                } => name.capacity() + public_id.capacity() + system_id.capacity(),
                NodeData::Element { tag, attrs, .. } => {
                    tag.capacity()
                        + attrs.capacity() * size_of::<(String, String)>()
                        + attrs
                            .iter()
                            .map(|(k, v)| k.capacity() + v.capacity())
                            .sum::<usize>()
                }
                NodeData::Text { text, .. } | NodeData::Comment { text } => text.capacity(),
            };
        }
        n
    }

    /// Number of live nodes.
    pub fn len(&self) -> usize {
        self.index.len()
    }
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub(crate) fn slot(&self, s: u32) -> &Node {
        self.slots[s as usize].as_ref().expect("live slot")
    }
    fn slot_mut(&mut self, s: u32) -> &mut Node {
        self.slots[s as usize].as_mut().expect("live slot")
    }
    pub(crate) fn slot_of(&self, id: NodeId) -> Option<u32> {
        self.index.get(&id).copied()
    }
    pub(crate) fn root_slot(&self) -> Option<u32> {
        self.root
    }
    pub(crate) fn parent_slot(&self, s: u32) -> Option<u32> {
        self.slot(s).parent
    }
    pub(crate) fn children_slots(&self, s: u32) -> &[u32] {
        &self.slot(s).children
    }

    /// The node with this id, if it is in the tree now.
    pub fn get(&self, id: NodeId) -> Option<&Node> {
        self.slot_of(id).map(|s| self.slot(s))
    }
    pub fn get_mut(&mut self, id: NodeId) -> Option<&mut Node> {
        let s = self.slot_of(id)?;
        Some(self.slot_mut(s))
    }
    pub fn contains(&self, id: NodeId) -> bool {
        self.index.contains_key(&id)
    }
    /// The document node's id.
    pub fn root(&self) -> Option<NodeId> {
        self.root.map(|s| self.slot(s).id)
    }
    pub fn parent(&self, id: NodeId) -> Option<NodeId> {
        let s = self.slot_of(id)?;
        self.slot(s).parent.map(|p| self.slot(p).id)
    }
    pub fn children(&self, id: NodeId) -> Vec<NodeId> {
        self.slot_of(id)
            .map(|s| {
                self.slot(s)
                    .children
                    .iter()
                    .map(|c| self.slot(*c).id)
                    .collect()
            })
            .unwrap_or_default()
    }
    /// Parent, grandparent, … up to the document (through iframe documents and shadow hosts).
    pub fn ancestors(&self, id: NodeId) -> impl Iterator<Item = &Node> + '_ {
        let mut cur = self.slot_of(id).and_then(|s| self.slot(s).parent);
        std::iter::from_fn(move || {
            let s = cur?;
            cur = self.slot(s).parent;
            Some(self.slot(s))
        })
    }
    /// The node and its descendants in document order.
    pub fn subtree(&self, id: NodeId) -> Vec<NodeId> {
        let mut out = Vec::new();
        if let Some(s) = self.slot_of(id) {
            let mut stack = vec![s];
            while let Some(s) = stack.pop() {
                let n = self.slot(s);
                out.push(n.id);
                stack.extend(n.children.iter().rev());
            }
        }
        out
    }

    // ---- building -------------------------------------------------------------------------

    fn alloc(&mut self, n: Node) -> u32 {
        let id = n.id;
        let s = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = Some(n);
                s
            }
            None => {
                self.slots.push(Some(n));
                (self.slots.len() - 1) as u32
            }
        };
        // A node re-added under an id still in the tree replaces it (rrweb's mirror does too).
        if let Some(old) = self.index.insert(id, s) {
            if old != s && self.slots[old as usize].is_some() {
                self.index.insert(id, old);
                self.delete_subtree(old);
                self.index.insert(id, s);
            }
        }
        s
    }

    /// Detach a slot from its parent and free it with its descendants.
    fn delete_subtree(&mut self, s: u32) {
        if let Some(p) = self.slot(s).parent {
            self.slot_mut(p).children.retain(|c| *c != s);
        }
        let mut stack = vec![s];
        while let Some(s) = stack.pop() {
            if let Some(n) = self.slots[s as usize].take() {
                if self.index.get(&n.id) == Some(&s) {
                    self.index.remove(&n.id);
                }
                stack.extend(n.children);
                self.free.push(s);
            }
        }
        if self.root == Some(s) {
            self.root = None;
        }
    }

    /// Build a serialized rrweb node (with its `childNodes`) into the arena; returns its slot.
    fn build<N: SerNode>(
        &mut self,
        v: &N,
        parent: Option<u32>,
        added: &mut Vec<NodeId>,
    ) -> Option<u32> {
        // Iterative to survive deeply nested snapshots.
        let mut first = None;
        let mut stack: Vec<(&N, Option<u32>)> = vec![(v, parent)];
        while let Some((v, parent)) = stack.pop() {
            let Some(id) = v.id() else {
                continue; // not a node object, or no id: skipped with its children
            };
            if let (Some(old), Some(p)) = (self.slot_of(id), parent) {
                if self.is_ancestor(old, p) {
                    continue; // a node reusing an ancestor's id: skip it, with its children
                }
            }
            let node = Node {
                id,
                data: v.data(),
                shadow: v.shadow(),
                user: 0,
                parent,
                children: Vec::new(),
            };
            let s = self.alloc(node);
            if let Some(p) = parent {
                self.slot_mut(p).children.push(s);
            }
            if first.is_none() {
                first = Some(s);
                added.push(id);
            }
            for k in v.kids().iter().rev() {
                stack.push((k, Some(s)));
            }
        }
        // Children were pushed in reverse onto the stack, so they were appended in order.
        first
    }

    /// Apply one rrweb event (as a JSON value). Events that do not change the DOM are ignored.
    pub fn apply(&mut self, event: &Value) -> Changes {
        let mut ch = Changes::default();
        let ty = event.get("type").and_then(num);
        let data = event.get("data");
        match (ty, data) {
            (Some(2), Some(d)) => {
                if let Some(node) = d.get("node") {
                    self.load_snapshot(node);
                    ch.rebuilt = true;
                }
            }
            (Some(3), Some(d)) => match d.get("source").and_then(num) {
                Some(0) => self.apply_mutation(d, &mut ch),
                Some(5) => {
                    if let Some(id) = d.get("id").and_then(num) {
                        let text = d.get("text").and_then(Value::as_str);
                        let checked = d.get("isChecked").and_then(Value::as_bool);
                        if self.apply_input(id, text, checked) {
                            ch.inputs.push(id);
                        }
                    }
                }
                _ => {}
            },
            _ => {}
        }
        ch
    }

    /// Replace the whole tree with a FullSnapshot's `data.node`.
    pub fn load_snapshot(&mut self, node: &Value) {
        self.load(node);
    }

    fn load<N: SerNode>(&mut self, node: &N) {
        *self = Dom::default();
        let mut added = Vec::new();
        self.root = self.build(node, None, &mut added);
    }

    fn apply_input(&mut self, id: NodeId, text: Option<&str>, checked: Option<bool>) -> bool {
        let Some(s) = self.slot_of(id) else {
            return false;
        };
        let n = self.slot_mut(s);
        let NodeData::Element { attrs, .. } = &mut n.data else {
            return false;
        };
        if let Some(t) = text {
            set_attr(attrs, "value", Some(t.to_string()));
        }
        if let Some(c) = checked {
            let is_check = attrs.iter().any(|(k, v)| {
                k == "type"
                    && (v.eq_ignore_ascii_case("checkbox") || v.eq_ignore_ascii_case("radio"))
            });
            if is_check {
                set_attr(attrs, "checked", c.then(String::new));
            }
        }
        true
    }

    /// Apply a Mutation's `data` (rrweb order: removes, adds, texts, attributes).
    pub fn apply_mutation(&mut self, d: &Value, ch: &mut Changes) {
        if let Some(Value::Array(rs)) = d.get("removes") {
            for r in rs {
                if let Some(id) = r.get("id").and_then(num) {
                    self.remove(id, ch);
                }
            }
        }
        if let Some(Value::Array(adds)) = d.get("adds") {
            self.add_all(adds, ch);
        }
        if let Some(Value::Array(ts)) = d.get("texts") {
            for t in ts {
                let (Some(id), Some(v)) = (t.get("id").and_then(num), t.get("value")) else {
                    continue;
                };
                self.set_text(id, v.as_str().unwrap_or(""), ch);
            }
        }
        if let Some(Value::Array(attrs)) = d.get("attributes") {
            for a in attrs {
                let Some(id) = a.get("id").and_then(num) else {
                    continue;
                };
                let Some(Value::Object(map)) = a.get("attributes") else {
                    continue;
                };
                self.set_attributes(id, map, ch);
            }
        }
    }

    fn remove(&mut self, id: NodeId, ch: &mut Changes) {
        if let Some(s) = self.slot_of(id) {
            self.delete_subtree(s);
            ch.removed.push(id);
        }
    }

    /// A mutation's adds: those whose parent or `nextId` is not there yet wait and are retried
    /// until a round adds nothing; the rest are orphaned.
    fn add_all<A: SerAdd>(&mut self, adds: &[A], ch: &mut Changes) {
        let mut pending: Vec<&A> = adds.iter().collect();
        loop {
            let before = pending.len();
            let mut still = Vec::new();
            for a in pending {
                if !self.try_add(a, ch) {
                    still.push(a);
                }
            }
            pending = still;
            if pending.is_empty() || pending.len() == before {
                break;
            }
        }
        for a in pending {
            if let Some(id) = a.node().flatten().and_then(SerNode::id) {
                ch.orphaned.push(id);
            }
        }
    }

    fn set_text(&mut self, id: NodeId, val: &str, ch: &mut Changes) {
        let Some(s) = self.slot_of(id) else { return };
        match &mut self.slot_mut(s).data {
            NodeData::Text { text, .. } | NodeData::Comment { text } => *text = val.to_string(),
            NodeData::Element { .. } => {
                // textContent on an element: its children become one text node.
                let kids = std::mem::take(&mut self.slot_mut(s).children);
                for k in kids {
                    self.slot_mut(k).parent = None;
                    self.delete_subtree(k);
                }
            }
            _ => {}
        }
        ch.texts.push(id);
    }

    fn set_attributes(&mut self, id: NodeId, map: &Map<String, Value>, ch: &mut Changes) {
        let Some(s) = self.slot_of(id) else { return };
        let NodeData::Element { attrs, .. } = &mut self.slot_mut(s).data else {
            return;
        };
        for (k, v) in map {
            match v {
                Value::Object(diff) if k == "style" => apply_style_diff(attrs, diff),
                v => set_attr(attrs, k, attr_value_text(v)),
            }
        }
        ch.attributes.push(id);
    }

    fn try_add<A: SerAdd>(&mut self, a: &A, ch: &mut Changes) -> bool {
        let Some(pid) = a.parent_id() else {
            return true; // malformed: drop
        };
        let Some(node) = a.node() else {
            return true;
        };
        let Some(p) = self.slot_of(pid) else {
            return false;
        };
        let next_slot = match a.next_id() {
            Some(n) => match self.slot_of(n) {
                Some(s) => Some(s),
                None => return false,
            },
            None => None,
        };
        let prev_slot = a.previous_id().and_then(|p| self.slot_of(p));
        // Adding a node already in the tree moves it: drop the old copy first.
        if let Some(id) = node.and_then(SerNode::id) {
            if let Some(old) = self.slot_of(id) {
                // Its own next/previous sibling or one inside it (deleting it would free the
                // anchor), or an ancestor of the new parent: a cycle; rrweb refuses too.
                let inside = |x: Option<u32>| x.is_some_and(|x| self.is_ancestor(old, x));
                if inside(next_slot) || inside(prev_slot) || self.is_ancestor(old, p) {
                    return true;
                }
                self.delete_subtree(old);
            }
        }
        let Some(node) = node else {
            return true; // `"node": null`
        };
        let Some(s) = self.build(node, None, &mut ch.added) else {
            return true;
        };
        if self.slots[p as usize].as_ref().map(|n| n.id) != Some(pid) {
            // The added subtree reused the parent's own id: refuse, like a cycle.
            self.delete_subtree(s);
            return true;
        }
        self.slot_mut(s).parent = Some(p);
        let kids = &self.slot(p).children;
        let pos = match (next_slot, prev_slot) {
            (Some(n), _) if self.slot(n).parent == Some(p) => kids.iter().position(|c| *c == n),
            (_, Some(pv)) if self.slot(pv).parent == Some(p) => {
                kids.iter().position(|c| *c == pv).map(|i| i + 1)
            }
            _ => None,
        };
        match pos {
            Some(i) => self.slot_mut(p).children.insert(i, s),
            None => self.slot_mut(p).children.push(s),
        }
        true
    }

    fn is_ancestor(&self, a: u32, mut s: u32) -> bool {
        loop {
            if a == s {
                return true;
            }
            match self.slot(s).parent {
                Some(p) => s = p,
                None => return false,
            }
        }
    }

    /// Every element matching `sel`, in document order.
    pub fn select(&self, sel: &Selector) -> Vec<NodeId> {
        let Some(r) = self.root else { return vec![] };
        self.subtree(self.slot(r).id)
            .into_iter()
            .filter(|id| self.matches(*id, sel))
            .collect()
    }

    /// Whether the element `id` matches `sel` (false for non-elements and unknown ids).
    pub fn matches(&self, id: NodeId, sel: &Selector) -> bool {
        match self.slot_of(id) {
            Some(s) if self.slot(s).is_element() => sel.matches_slot(self, s),
            _ => false,
        }
    }

    /// The text of a node and its descendants.
    pub fn text_content(&self, id: NodeId) -> String {
        let mut out = String::new();
        for n in self.subtree(id) {
            if let Some(NodeData::Text { text, .. }) = self.get(n).map(|n| &n.data) {
                out.push_str(text);
            }
        }
        out
    }
}

fn node_data(o: &Map<String, Value>) -> NodeData {
    let s = |k: &str| {
        o.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    match o.get("type").and_then(num) {
        Some(0) => NodeData::Document,
        Some(1) => NodeData::Doctype {
            name: s("name"),
            public_id: s("publicId"),
            system_id: s("systemId"),
        },
        Some(2) => {
            let mut attrs = Vec::new();
            if let Some(Value::Object(m)) = o.get("attributes") {
                for (k, v) in m {
                    if let Some(t) = attr_value_text(v) {
                        attrs.push((k.clone(), t));
                    }
                }
            }
            NodeData::Element {
                tag: s("tagName").to_ascii_lowercase(),
                attrs,
                svg: o.get("isSVG").and_then(Value::as_bool).unwrap_or(false),
            }
        }
        Some(3) => NodeData::Text {
            text: s("textContent"),
            is_style: o.get("isStyle").and_then(Value::as_bool).unwrap_or(false),
        },
        Some(4) => NodeData::CData,
        Some(5) => NodeData::Comment {
            text: s("textContent"),
        },
        _ => NodeData::Comment {
            text: String::new(),
        },
    }
}

fn set_attr(attrs: &mut Vec<(String, String)>, name: &str, v: Option<String>) {
    let i = attrs.iter().position(|(k, _)| k == name);
    match (i, v) {
        (Some(i), Some(v)) => attrs[i].1 = v,
        (None, Some(v)) => attrs.push((name.to_string(), v)),
        (Some(i), None) => {
            attrs.remove(i);
        }
        (None, None) => {}
    }
}

/// Apply rrweb's style object diff: `{prop: "value" | ["value", "important"] | false}`.
fn apply_style_diff(attrs: &mut Vec<(String, String)>, diff: &Map<String, Value>) {
    let cur = attrs
        .iter()
        .find(|(k, _)| k == "style")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let mut decls: Vec<(String, String)> = cur
        .split(';')
        .filter_map(|d| {
            let (k, v) = d.split_once(':')?;
            let k = k.trim();
            (!k.is_empty()).then(|| (k.to_string(), v.trim().to_string()))
        })
        .collect();
    for (k, v) in diff {
        let val = match v {
            Value::String(s) => Some(s.clone()),
            Value::Array(a) => {
                let v = a.first().and_then(Value::as_str).unwrap_or_default();
                match a.get(1).and_then(Value::as_str) {
                    Some(p) if !p.is_empty() => Some(format!("{v} !{p}")),
                    _ => Some(v.to_string()),
                }
            }
            _ => None,
        };
        decls.retain(|(n, _)| n != k);
        if let Some(val) = val {
            decls.push((k.clone(), val));
        }
    }
    let text: String = decls.iter().map(|(k, v)| format!("{k}: {v}; ")).collect();
    set_attr(attrs, "style", Some(text.trim_end().to_string()));
}

#[cfg(test)]
mod tests;
