//! The YAML eko writes (PyYAML `safe_dump`), read into JSON values with bounds, and written back.
//!
//! Reading goes through yaml-rust2's event parser with our own tree builder, so that a hostile
//! header cannot exhaust memory or the stack: at most [`MAX_DEPTH`] levels of nesting and
//! [`MAX_NODES`] nodes, aliases included (an alias counts every node it repeats, so a "billion
//! laughs" document is refused, not expanded).
//!
//! Scalars follow YAML 1.2's core schema as PyYAML writes it: `null`/`~`, `true`/`false`, integers,
//! floats including `.nan`, `.inf` and `-.inf`. JSON has no non-finite numbers: they become the
//! strings `".nan"`, `".inf"` and `"-.inf"`, and [`to_yaml`] turns those strings back into YAML
//! floats, so cards carried through a store come back as they were.

use serde_json::{Map, Number, Value};
use yaml_rust2::Yaml;
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::TScalarStyle;

/// Deepest nesting accepted.
pub const MAX_DEPTH: usize = 64;
/// Most nodes (scalars, sequences, mappings; aliases count what they repeat) in one document.
pub const MAX_NODES: usize = 1_000_000;

/// A node being built: a sequence, or a mapping with the key waiting for its value.
enum Open {
    Seq(Vec<Value>, usize, usize),
    Map(Map<String, Value>, Option<String>, usize, usize),
}

/// A finished value and the number of nodes in it (for alias budgets).
struct Node {
    value: Value,
    nodes: usize,
}

/// The JSON value of a plain or quoted scalar.
fn scalar(text: String, style: TScalarStyle, tag: Option<&str>) -> Value {
    if style != TScalarStyle::Plain || tag.is_some_and(|t| t.ends_with("str")) {
        return Value::String(text);
    }
    match Yaml::from_str(&text) {
        Yaml::Integer(i) => Value::Number(i.into()),
        Yaml::Real(r) => match Yaml::Real(r.clone()).as_f64() {
            Some(f) if f.is_finite() => Number::from_f64(f).map_or(Value::String(r), Value::Number),
            Some(f) if f.is_nan() => Value::String(".nan".into()),
            Some(f) if f > 0.0 => Value::String(".inf".into()),
            Some(_) => Value::String("-.inf".into()),
            None => Value::String(r),
        },
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Null => Value::Null,
        _ => Value::String(text),
    }
}

/// A mapping key as text: scalars only.
fn key_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some("null".into()),
        _ => None,
    }
}

/// Parses the first document of `text` into a JSON value (`Null` for an empty document).
/// Errors are one-line reasons.
pub fn parse(text: &str) -> Result<Value, String> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Open> = Vec::new();
    let mut anchors: std::collections::HashMap<usize, (Value, usize)> = Default::default();
    let mut total = 0usize;
    let mut done: Option<Value> = None;
    loop {
        let (event, mark) = parser
            .next_token()
            .map_err(|e| format!("invalid YAML: {e}"))?;
        let is_alias = matches!(event, Event::Alias(_));
        let finished: Option<(Node, usize)> = match event {
            Event::StreamEnd => break,
            Event::DocumentEnd if done.is_some() => break,
            Event::Nothing | Event::StreamStart | Event::DocumentStart | Event::DocumentEnd => None,
            Event::Scalar(text, style, anchor, tag) => {
                let value = scalar(text, style, tag.as_ref().map(|t| t.suffix.as_str()));
                Some((Node { value, nodes: 1 }, anchor))
            }
            Event::Alias(id) => {
                let (value, nodes) = anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| format!("line {}: alias to an unknown anchor", mark.line()))?;
                Some((Node { value, nodes }, 0))
            }
            Event::SequenceStart(anchor, _) => {
                stack.push(Open::Seq(Vec::new(), anchor, 1));
                None
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Open::Map(Map::new(), None, anchor, 1));
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Open::Seq(items, anchor, nodes)) => Some((
                    Node {
                        value: Value::Array(items),
                        nodes,
                    },
                    anchor,
                )),
                Some(Open::Map(map, _, anchor, nodes)) => Some((
                    Node {
                        value: Value::Object(map),
                        nodes,
                    },
                    anchor,
                )),
                None => return Err("invalid YAML: unbalanced end of a collection".into()),
            },
        };
        if stack.len() > MAX_DEPTH {
            return Err(format!(
                "line {}: nested deeper than {MAX_DEPTH} levels",
                mark.line()
            ));
        }
        let Some((node, anchor)) = finished else {
            continue;
        };
        // A finished collection's children were counted as they came; an alias brings all of
        // its nodes at once.
        total = total.saturating_add(if is_alias { node.nodes } else { 1 });
        if total > MAX_NODES {
            return Err(format!(
                "more than {MAX_NODES} nodes (aliases count what they repeat)"
            ));
        }
        if anchor != 0 {
            anchors.insert(anchor, (node.value.clone(), node.nodes));
        }
        match stack.last_mut() {
            None => done = Some(node.value),
            Some(Open::Seq(items, _, nodes)) => {
                *nodes = nodes.saturating_add(node.nodes);
                items.push(node.value);
            }
            Some(Open::Map(map, key, _, nodes)) => {
                *nodes = nodes.saturating_add(node.nodes);
                match key.take() {
                    None => {
                        *key = Some(key_text(&node.value).ok_or_else(|| {
                            format!("line {}: a mapping key must be a scalar", mark.line())
                        })?);
                    }
                    Some(k) => {
                        map.insert(k, node.value);
                    }
                }
            }
        }
    }
    Ok(done.unwrap_or(Value::Null))
}

/// Writes a JSON value as YAML (block style), the special strings `".nan"`, `".inf"` and
/// `"-.inf"` as YAML floats.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    let doc = yaml_of(value);
    let mut emitter = yaml_rust2::YamlEmitter::new(&mut out);
    emitter.dump(&doc).expect("writing to a String cannot fail");
    // The emitter starts documents with `---`; eko's files do not, PyYAML reads both.
    let body = out.strip_prefix("---\n").unwrap_or(&out);
    let mut text = body.to_string();
    text.push('\n');
    text
}

fn yaml_of(value: &Value) -> Yaml {
    match value {
        Value::Null => Yaml::Null,
        Value::Bool(b) => Yaml::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Integer(i),
            None => Yaml::Real(float_text(n.as_f64().unwrap_or(f64::NAN))),
        },
        Value::String(s) if matches!(s.as_str(), ".nan" | ".inf" | "-.inf") => {
            Yaml::Real(s.clone())
        }
        Value::String(s) => Yaml::String(s.clone()),
        Value::Array(items) => Yaml::Array(items.iter().map(yaml_of).collect()),
        Value::Object(map) => Yaml::Hash(
            map.iter()
                .map(|(k, v)| (Yaml::String(k.clone()), yaml_of(v)))
                .collect(),
        ),
    }
}

/// A float as PyYAML (YAML 1.1) reads it back as a float: the shortest round-trip digits, always
/// with a `.`, and a signed exponent (`1.0e-07` style: `1.0e-7`, `1.0e+16`).
pub fn float_text(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    let text = format!("{f:?}");
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m.to_string(), Some(e.to_string())),
        None => (text, None),
    };
    let mantissa = if mantissa.contains('.') {
        mantissa
    } else {
        format!("{mantissa}.0")
    };
    match exponent {
        Some(e) if e.starts_with('-') => format!("{mantissa}e{e}"),
        Some(e) => format!("{mantissa}e+{e}"),
        None => mantissa,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_what_pyyaml_writes() {
        let text = "data_version: 3\norigin:\n- 2.7224999999999997\n- 4\nversion: 0.15.7\nxgrid:\n- 1.0e-07\n- 1.0\nmasses:\n- - 2.0\n  - .nan\nname: 'yes'\nflag: false\nnothing: null\n";
        let v = parse(text).unwrap();
        assert_eq!(
            v,
            json!({"data_version": 3, "origin": [2.7224999999999997, 4], "version": "0.15.7",
                   "xgrid": [1e-7, 1.0], "masses": [[2.0, ".nan"]], "name": "yes",
                   "flag": false, "nothing": null})
        );
        assert_eq!(parse(&to_yaml(&v)).unwrap(), v);
        assert_eq!(parse("").unwrap(), Value::Null);
        assert_eq!(
            parse("a: &x [1, 2]\nb: *x\n").unwrap(),
            json!({"a": [1, 2], "b": [1, 2]})
        );
    }

    #[test]
    fn hostile_documents_are_refused() {
        // Flow nesting: the scanner's own limit; block nesting: ours.
        let flow = parse(&"[".repeat(10_000)).unwrap_err();
        assert!(flow.contains("recursion limit"), "{flow}");
        let block: String = (0..100)
            .map(|i| format!("{}a:\n", "  ".repeat(i)))
            .collect();
        let block = parse(&block).unwrap_err();
        assert!(block.contains("deeper than 64"), "{block}");
        let mut laughs = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..12 {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("l{}", i - 1)
            };
            laughs.push_str(&format!(
                "l{i}: &l{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
        }
        assert!(parse(&laughs).unwrap_err().contains("nodes"));
        assert!(parse("a: [1, 2").unwrap_err().contains("invalid YAML"));
        assert!(parse("? [1]\n: 2\n").unwrap_err().contains("key"));
        assert!(parse("b: *nowhere\n").is_err());
    }

    #[test]
    fn floats_read_back_as_floats() {
        for (f, text) in [
            (1e-7, "1.0e-7"),
            (1e16, "1.0e+16"),
            (100.0, "100.0"),
            (2.5e-12, "2.5e-12"),
        ] {
            assert_eq!(float_text(f), text);
        }
        for f in [1.0, 1e-7, 2.7224999999999997, 1e16, -0.5, 100.0, 1.5e300] {
            let back = parse(&float_text(f)).unwrap();
            assert_eq!(back.as_f64(), Some(f), "{f}");
            assert!(back.is_f64(), "{f} came back as {back}");
        }
    }
}
