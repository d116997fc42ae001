//! The grid-tree file `gridloopctl grid import` reads, in JSON or CSV.
//!
//! JSON: a tree. Either one root node, an array of nodes, or `{"grids": [...]}`. A node is
//! `{"code", "name", "level", "parent"?, "aliases"?, "boundary"?, "children"?}`: `level` is
//! county, town, village or group; `parent` (or `parent_code`) is needed only on a root whose
//! parent is not in the file (it may already exist on the server); children take their
//! parent from the nesting; `boundary` is a ring of `[lat, lng]` points.
//!
//! CSV: UTF-8 (a byte order mark is skipped), a header row naming the columns `code`, `name`,
//! `level`, `parent_code` (or `parent`) and optionally `aliases` (separated by `|`), in any
//! order; RFC 4180 quoting. Rows may come in any order.
//!
//! Either way the grids are checked (codes unique, levels known, no cycles) and ordered so a
//! parent is always sent before its children — each UpsertGrid batch is its own transaction,
//! so a child must never arrive in an earlier batch than its parent.

use std::collections::HashMap;

use gridloop_proto::v1 as pb;
use serde::Deserialize;
use serde_json::Value;

/// One grid as read from the file.
#[derive(Clone, Debug, PartialEq)]
pub struct GridRow {
    pub code: String,
    pub name: String,
    pub level: pb::GridLevel,
    pub parent_code: String,
    pub aliases: Vec<String>,
    pub boundary: Vec<(f64, f64)>,
}

impl GridRow {
    pub fn proto(&self) -> pb::Grid {
        pb::Grid {
            code: self.code.clone(),
            name: self.name.clone(),
            level: self.level as i32,
            parent_code: self.parent_code.clone(),
            aliases: self.aliases.clone(),
            boundary: (!self.boundary.is_empty()).then(|| pb::Polygon {
                points: self
                    .boundary
                    .iter()
                    .map(|&(lat, lng)| pb::GeoPoint { lat, lng })
                    .collect(),
            }),
            updated_at: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Node {
    code: String,
    name: String,
    level: String,
    #[serde(default, alias = "parent_code")]
    parent: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    boundary: Vec<[f64; 2]>,
    #[serde(default)]
    children: Vec<Node>,
}

/// Parses a JSON grid file.
pub fn parse_json(text: &str) -> Result<Vec<GridRow>, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let nodes = match doc {
        Value::Object(mut o) if o.contains_key("grids") => o.remove("grids").unwrap_or_default(),
        Value::Object(o) => Value::Array(vec![Value::Object(o)]),
        other => other,
    };
    let nodes: Vec<Node> = serde_json::from_value(nodes).map_err(|e| format!("grid file: {e}"))?;
    let mut out = Vec::new();
    for n in nodes {
        flatten(n, None, &mut out)?;
    }
    order(out)
}

fn flatten(n: Node, parent: Option<&str>, out: &mut Vec<GridRow>) -> Result<(), String> {
    let parent_code = match parent {
        Some(p) if !n.parent.is_empty() && n.parent != p => {
            return Err(format!(
                "grid {}: parent `{}` but nested under `{p}`",
                n.code, n.parent
            ));
        }
        Some(p) => p.to_string(),
        None => n.parent.clone(),
    };
    out.push(GridRow {
        level: parse_level(&n.level).map_err(|e| format!("grid {}: {e}", n.code))?,
        code: n.code.clone(),
        name: n.name,
        parent_code,
        aliases: n.aliases,
        boundary: n
            .boundary
            .into_iter()
            .map(|[lat, lng]| (lat, lng))
            .collect(),
    });
    for c in n.children {
        flatten(c, Some(&n.code), out)?;
    }
    Ok(())
}

/// county, town, village, group (or the proto names).
pub fn parse_level(s: &str) -> Result<pb::GridLevel, String> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_prefix("grid_level_").unwrap_or(&t);
    Ok(match t {
        "county" => pb::GridLevel::County,
        "town" => pb::GridLevel::Town,
        "village" => pb::GridLevel::Village,
        "group" => pb::GridLevel::Group,
        _ => return Err(format!("level `{s}` is not county, town, village or group")),
    })
}

/// Parses a CSV grid file.
pub fn parse_csv(text: &str) -> Result<Vec<GridRow>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let records = csv_records(text)?;
    let mut iter = records
        .into_iter()
        .filter(|(_, r)| !(r.len() == 1 && r[0].trim().is_empty()));
    let (_, header) = iter
        .next()
        .ok_or("the CSV file is empty (expected a header row)")?;
    let col = |names: &[&str]| {
        header
            .iter()
            .position(|h| names.contains(&h.trim().to_ascii_lowercase().as_str()))
    };
    let (Some(code), Some(name), Some(level)) = (col(&["code"]), col(&["name"]), col(&["level"]))
    else {
        return Err(
            "the CSV header must name the columns code, name, level and parent_code".into(),
        );
    };
    let parent = col(&["parent_code", "parent"]);
    let aliases = col(&["aliases"]);
    let mut out = Vec::new();
    for (line, r) in iter {
        let cell = |i: Option<usize>| {
            i.and_then(|i| r.get(i))
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        if r.len() != header.len() {
            return Err(format!(
                "line {line}: {} columns, the header has {}",
                r.len(),
                header.len()
            ));
        }
        out.push(GridRow {
            code: cell(Some(code)),
            name: cell(Some(name)),
            level: parse_level(&cell(Some(level))).map_err(|e| format!("line {line}: {e}"))?,
            parent_code: cell(parent),
            aliases: cell(aliases)
                .split('|')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(String::from)
                .collect(),
            boundary: Vec::new(),
        });
    }
    order(out)
}

/// RFC 4180 records with the line each starts on.
fn csv_records(text: &str) -> Result<Vec<(usize, Vec<String>)>, String> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut line = 1;
    let mut start = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => {
                if c == '\n' {
                    line += 1;
                }
                field.push(c);
            }
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push((start, std::mem::take(&mut record)));
                line += 1;
                start = line;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err(format!("line {start}: a quoted field is not closed"));
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push((start, record));
    }
    Ok(records)
}

/// Checks the rows and orders them parents first (stable within a depth).
fn order(rows: Vec<GridRow>) -> Result<Vec<GridRow>, String> {
    let mut index = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        if r.code.is_empty() {
            return Err(format!("grid #{} has no code", i + 1));
        }
        if r.name.is_empty() {
            return Err(format!("grid {} has no name", r.code));
        }
        if index.insert(r.code.as_str(), i).is_some() {
            return Err(format!("grid {} appears twice", r.code));
        }
    }
    let mut depth = vec![usize::MAX; rows.len()];
    for i in 0..rows.len() {
        // Walk up to a grid outside the file (or a known depth); a walk longer than the
        // file has grids is a cycle.
        let mut chain = vec![i];
        let mut base = 0;
        while let Some(&j) = index.get(rows[*chain.last().unwrap_or(&i)].parent_code.as_str()) {
            if depth[j] != usize::MAX {
                base = depth[j] + 1;
                break;
            }
            if chain.contains(&j) {
                return Err(format!("grid {} is its own ancestor", rows[j].code));
            }
            chain.push(j);
        }
        for (k, &j) in chain.iter().rev().enumerate() {
            depth[j] = base + k;
        }
    }
    let mut ordered: Vec<(usize, GridRow)> = depth.into_iter().zip(rows).collect();
    ordered.sort_by_key(|(d, _)| *d);
    Ok(ordered.into_iter().map(|(_, r)| r).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_tree_flattens_parents_first() {
        let text = r#"{"code":"3415","name":"某县","level":"county","children":[
            {"code":"341501","name":"城关镇","level":"town","aliases":["城关"],"children":[
                {"code":"34150101","name":"幸福村","level":"village",
                 "boundary":[[31.1,117.1],[31.2,117.1],[31.2,117.2]]}]}]}"#;
        let rows = parse_json(text).unwrap();
        let codes: Vec<_> = rows.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(codes, ["3415", "341501", "34150101"]);
        assert_eq!(rows[1].parent_code, "3415");
        assert_eq!(rows[1].aliases, ["城关"]);
        assert_eq!(rows[2].level, pb::GridLevel::Village);
        assert_eq!(rows[2].proto().boundary.unwrap().points.len(), 3);
        let wrapped =
            parse_json(r#"{"grids":[{"code":"9","name":"x","level":"town","parent":"1"}]}"#)
                .unwrap();
        assert_eq!(wrapped[0].parent_code, "1");
    }

    #[test]
    fn json_errors_say_what_is_wrong() {
        assert!(
            parse_json("[{\"code\":\"1\",\"name\":\"x\"}]")
                .unwrap_err()
                .contains("level")
        );
        assert!(
            parse_json(r#"[{"code":"1","name":"x","level":"city"}]"#)
                .unwrap_err()
                .contains("city")
        );
        assert!(
            parse_json(r#"[{"code":"1","name":"x","level":"town","colour":1}]"#)
                .unwrap_err()
                .contains("colour")
        );
    }

    #[test]
    fn csv_rows_are_ordered_parents_first() {
        let text = "\u{feff}code,name,level,parent_code,aliases\r\n\
            34150101,\"幸福村, 东\",village,341501,幸福|\"老幸福\"\r\n\
            341501,城关镇,town,3415,\n\
            \n\
            3415,某县,county,,\n";
        let rows = parse_csv(text).unwrap();
        let codes: Vec<_> = rows.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(codes, ["3415", "341501", "34150101"]);
        assert_eq!(rows[2].name, "幸福村, 东");
        assert_eq!(rows[2].aliases, ["幸福", "\"老幸福\""]);
        assert_eq!(rows[0].parent_code, "");
    }

    #[test]
    fn csv_and_tree_errors() {
        assert!(
            parse_csv("code,name\n1,x\n")
                .unwrap_err()
                .contains("header")
        );
        assert!(
            parse_csv("code,name,level,parent_code\n1,x,town\n")
                .unwrap_err()
                .contains("line 2")
        );
        assert!(
            parse_csv("code,name,level,parent_code\n1,x,town,\n1,y,town,\n")
                .unwrap_err()
                .contains("twice")
        );
        let cycle = "code,name,level,parent_code\n1,x,town,2\n2,y,town,1\n";
        assert!(parse_csv(cycle).unwrap_err().contains("own ancestor"));
        assert!(
            parse_csv("code,name,level,parent_code\n\"1,x,town,\n")
                .unwrap_err()
                .contains("not closed")
        );
    }
}
