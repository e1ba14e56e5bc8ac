//! The two ways an rrweb event reaches the DOM: as a `serde_json::Value` ([`Dom::apply`]) or as
//! JSON text read straight into borrowed structs ([`Dom::apply_json`], no `Value` tree: the hot
//! path of the moments and Parquet walks). Both build through the same code ([`SerNode`],
//! [`SerAdd`]). The typed reader is strict: any field of an unexpected type (or nesting past
//! serde_json's 128 levels) makes it give up, and the event goes through the `Value` path, whose
//! lenient reading is the definition. So both paths always give the same DOM.
use crate::{node_data, num, Changes, Dom, NodeData, NodeId};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;

/// A serialized rrweb node (`childNodes` included).
pub(crate) trait SerNode: Sized {
    /// `None`: not a node object, or no numeric id (skipped with its children).
    fn id(&self) -> Option<NodeId>;
    fn shadow(&self) -> bool;
    /// Only asked of nodes with an id, once per node (the typed reader moves its attributes).
    fn data(&self) -> NodeData;
    fn kids(&self) -> &[Self];
}

/// One entry of a Mutation's `adds`.
pub(crate) trait SerAdd {
    type Node: SerNode;
    fn parent_id(&self) -> Option<NodeId>;
    fn next_id(&self) -> Option<NodeId>;
    fn previous_id(&self) -> Option<NodeId>;
    /// `None`: no `node` key; `Some(None)`: `"node": null`.
    fn node(&self) -> Option<Option<&Self::Node>>;
}

impl SerNode for Value {
    fn id(&self) -> Option<NodeId> {
        self.as_object()?.get("id").and_then(num)
    }
    fn shadow(&self) -> bool {
        self.get("isShadow")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
    fn data(&self) -> NodeData {
        match self.as_object() {
            Some(o) => node_data(o),
            None => NodeData::Comment {
                text: String::new(),
            },
        }
    }
    fn kids(&self) -> &[Value] {
        match self.get("childNodes") {
            Some(Value::Array(k)) => k,
            _ => &[],
        }
    }
}

impl SerAdd for Value {
    type Node = Value;
    fn parent_id(&self) -> Option<NodeId> {
        self.get("parentId").and_then(num)
    }
    fn next_id(&self) -> Option<NodeId> {
        self.get("nextId").and_then(num)
    }
    fn previous_id(&self) -> Option<NodeId> {
        self.get("previousId").and_then(num)
    }
    fn node(&self) -> Option<Option<&Value>> {
        self.get("node").map(Some)
    }
}

// ---- the typed reader -------------------------------------------------------------------------

/// A JSON number read as [`num`] reads a `Value` (integers, else the float truncated).
#[derive(Clone, Copy)]
struct Num(i64);

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Num, E> {
                Ok(Num(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Num, E> {
                Ok(Num(i64::try_from(v).unwrap_or(v as f64 as i64)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Num, E> {
                Ok(Num(v as i64))
            }
        }
        d.deserialize_any(V)
    }
}

fn n(x: Option<Num>) -> Option<NodeId> {
    x.map(|x| x.0)
}

/// A key that may be absent, `null` or a value (`Value::get` tells them apart).
#[derive(Default)]
enum Slot<T> {
    #[default]
    Missing,
    Null,
    Val(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Slot<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            Some(v) => Slot::Val(v),
            None => Slot::Null,
        })
    }
}

/// A snapshot node's attributes as `node_data` keeps them: in first-seen key order with the last
/// value (serde_json's `preserve_order` map), `null`/`false` dropped, `true` → `""`, integers as
/// text. Floats, arrays and objects are left to the `Value` path.
/// Taken (not cloned) when the node is built: a `Cell` lets [`SerNode::data`] move it out.
struct Attrs(std::cell::Cell<Vec<(String, String)>>);

impl<'de> Deserialize<'de> for Attrs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Attrs;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an attribute map")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Attrs, M::Error> {
                let mut out: Vec<(String, Option<String>)> = Vec::new();
                while let Some(k) = m.next_key::<Cow<'de, str>>()? {
                    let v = m.next_value::<AttrText>()?.0;
                    match out.iter_mut().find(|(x, _)| *x == k) {
                        Some(slot) => slot.1 = v,
                        None => out.push((k.into_owned(), v)),
                    }
                }
                Ok(Attrs(std::cell::Cell::new(
                    out.into_iter()
                        .filter_map(|(k, v)| v.map(|v| (k, v)))
                        .collect(),
                )))
            }
        }
        d.deserialize_map(V)
    }
}

/// One attribute value, as [`crate::attr_value_text`] reads it.
struct AttrText(Option<String>);

impl<'de> Deserialize<'de> for AttrText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = AttrText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, integer, boolean or null")
            }
            fn visit_str<E>(self, v: &str) -> Result<AttrText, E> {
                Ok(AttrText(Some(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<AttrText, E> {
                Ok(AttrText(Some(v)))
            }
            fn visit_bool<E>(self, v: bool) -> Result<AttrText, E> {
                Ok(AttrText(v.then(String::new)))
            }
            fn visit_unit<E>(self) -> Result<AttrText, E> {
                Ok(AttrText(None))
            }
            fn visit_none<E>(self) -> Result<AttrText, E> {
                Ok(AttrText(None))
            }
            fn visit_i64<E>(self, v: i64) -> Result<AttrText, E> {
                Ok(AttrText(Some(v.to_string())))
            }
            fn visit_u64<E>(self, v: u64) -> Result<AttrText, E> {
                Ok(AttrText(Some(v.to_string())))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TNode<'a> {
    #[serde(rename = "type")]
    ty: Option<Num>,
    id: Option<Num>,
    #[serde(borrow)]
    tag_name: Option<Cow<'a, str>>,
    attributes: Option<Attrs>,
    #[serde(borrow, default)]
    child_nodes: Option<Vec<TNode<'a>>>,
    #[serde(borrow)]
    text_content: Option<Cow<'a, str>>,
    is_style: Option<bool>,
    #[serde(rename = "isSVG")]
    is_svg: Option<bool>,
    is_shadow: Option<bool>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    public_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    system_id: Option<Cow<'a, str>>,
}

fn owned(s: &Option<Cow<'_, str>>) -> String {
    s.as_deref().unwrap_or_default().to_string()
}

impl SerNode for TNode<'_> {
    fn id(&self) -> Option<NodeId> {
        n(self.id)
    }
    fn shadow(&self) -> bool {
        self.is_shadow.unwrap_or(false)
    }
    fn data(&self) -> NodeData {
        match n(self.ty) {
            Some(0) => NodeData::Document,
            Some(1) => NodeData::Doctype {
                name: owned(&self.name),
                public_id: owned(&self.public_id),
                system_id: owned(&self.system_id),
            },
            Some(2) => NodeData::Element {
                tag: self
                    .tag_name
                    .as_deref()
                    .unwrap_or_default()
                    .to_ascii_lowercase(),
                attrs: self
                    .attributes
                    .as_ref()
                    .map(|a| a.0.take())
                    .unwrap_or_default(),
                svg: self.is_svg.unwrap_or(false),
            },
            Some(3) => NodeData::Text {
                text: owned(&self.text_content),
                is_style: self.is_style.unwrap_or(false),
            },
            Some(4) => NodeData::CData,
            Some(5) => NodeData::Comment {
                text: owned(&self.text_content),
            },
            _ => NodeData::Comment {
                text: String::new(),
            },
        }
    }
    fn kids(&self) -> &[Self] {
        self.child_nodes.as_deref().unwrap_or_default()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TAdd<'a> {
    parent_id: Option<Num>,
    next_id: Option<Num>,
    previous_id: Option<Num>,
    #[serde(borrow, default)]
    node: Slot<TNode<'a>>,
}

impl<'a> SerAdd for TAdd<'a> {
    type Node = TNode<'a>;
    fn parent_id(&self) -> Option<NodeId> {
        n(self.parent_id)
    }
    fn next_id(&self) -> Option<NodeId> {
        n(self.next_id)
    }
    fn previous_id(&self) -> Option<NodeId> {
        n(self.previous_id)
    }
    fn node(&self) -> Option<Option<&TNode<'a>>> {
        match &self.node {
            Slot::Missing => None,
            Slot::Null => Some(None),
            Slot::Val(v) => Some(Some(v)),
        }
    }
}

#[derive(Deserialize)]
struct TId {
    id: Option<Num>,
}

#[derive(Deserialize)]
struct TText<'a> {
    id: Option<Num>,
    #[serde(borrow, default)]
    value: Slot<Cow<'a, str>>,
}

/// A mutation's attribute change: few and small, kept as a `Value` map so that a `style` diff
/// and odd values are read exactly as the `Value` path reads them.
#[derive(Deserialize)]
struct TAttrs {
    id: Option<Num>,
    attributes: Option<Map<String, Value>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TData<'a> {
    source: Option<Num>,
    #[serde(borrow, default)]
    node: Slot<TNode<'a>>,
    removes: Option<Vec<TId>>,
    #[serde(borrow)]
    adds: Option<Vec<TAdd<'a>>>,
    #[serde(borrow)]
    texts: Option<Vec<TText<'a>>>,
    attributes: Option<Vec<TAttrs>>,
    id: Option<Num>,
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
    is_checked: Option<bool>,
}

#[derive(Deserialize)]
struct TEvent<'a> {
    #[serde(rename = "type")]
    ty: Option<Num>,
    #[serde(borrow)]
    data: Option<TData<'a>>,
}

impl Dom {
    /// [`Dom::apply`] for an event given as JSON text: the same DOM, read without a `Value`
    /// tree when the event has the usual shapes (else through `Value`, read with the same depth
    /// bound as [`reel_format::Event::to_value`]). `None`: not JSON (nothing changed).
    pub fn apply_json(&mut self, json: &str) -> Option<Changes> {
        match serde_json::from_str::<TEvent>(json) {
            Ok(e) => Some(self.apply_typed(e)),
            Err(_) => {
                let depth = reel_format::Limits::default().max_depth;
                let v = reel_format::json::parse_value("event", json.as_bytes(), depth).ok()?;
                Some(self.apply(&v))
            }
        }
    }

    fn apply_typed(&mut self, e: TEvent) -> Changes {
        let mut ch = Changes::default();
        let Some(d) = e.data else { return ch };
        match n(e.ty) {
            Some(2) => match &d.node {
                Slot::Missing => {}
                Slot::Null => {
                    *self = Dom::default();
                    ch.rebuilt = true;
                }
                Slot::Val(node) => {
                    self.load(node);
                    ch.rebuilt = true;
                }
            },
            Some(3) => match n(d.source) {
                Some(0) => {
                    for r in d.removes.iter().flatten() {
                        if let Some(id) = n(r.id) {
                            self.remove(id, &mut ch);
                        }
                    }
                    if let Some(adds) = &d.adds {
                        self.add_all(adds, &mut ch);
                    }
                    for t in d.texts.iter().flatten() {
                        let v = match &t.value {
                            Slot::Missing => continue,
                            Slot::Null => "",
                            Slot::Val(v) => v,
                        };
                        if let Some(id) = n(t.id) {
                            self.set_text(id, v, &mut ch);
                        }
                    }
                    for a in d.attributes.iter().flatten() {
                        if let (Some(id), Some(map)) = (n(a.id), &a.attributes) {
                            self.set_attributes(id, map, &mut ch);
                        }
                    }
                }
                Some(5) => {
                    if let Some(id) = n(d.id) {
                        if self.apply_input(id, d.text.as_deref(), d.is_checked) {
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
}
