//! Scenario errors in the scenario's words: serde's generic messages ("invalid type:
//! integer `3`, expected a boolean", "expected u32", "expected struct RawRetry") name
//! Rust types; these say what the key accepts as a scenario author writes it ("true or
//! false", "a whole number like 3", "a map of settings").

/// `msg` with serde's `invalid type` / `invalid value` wording and Rust type names
/// replaced; any other message is returned as it is.
pub(super) fn plain(msg: &str) -> String {
    let rest = msg
        .strip_prefix("invalid type: ")
        .or_else(|| msg.strip_prefix("invalid value: "));
    let Some(rest) = rest else {
        if let Some(field) = msg
            .strip_prefix("missing field `")
            .and_then(|r| r.strip_suffix('`'))
        {
            return format!(
                "`{field}` is missing; add it here, e.g. `{field}: ...` (the schema and README list what it takes)"
            );
        }
        return msg.to_string();
    };
    let Some((got, want)) = rest.split_once(", expected ") else {
        return msg.to_string();
    };
    format!("{}; expected {}", what_was_given(got), expected(want))
}

/// Where key `field` of the mapping at `key_path` is given a second time: (line, column,
/// the first one's line), 1-based. Block mappings only, as scenario files are written.
pub(super) fn duplicate_at(
    text: &str,
    key_path: &str,
    field: &str,
) -> Option<(usize, usize, usize)> {
    let path = if key_path.is_empty() {
        field.to_string()
    } else {
        format!("{key_path}.{field}")
    };
    let (first, col) = super::locate::locate(text, &path)?;
    let indent = col - 1;
    let lines: Vec<&str> = text.lines().collect();
    if !lines
        .get(first - 1)?
        .get(indent..)?
        .starts_with(&format!("{field}:"))
    {
        return None;
    }
    for (i, line) in lines.iter().enumerate().skip(first) {
        let body = line.trim_start();
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let ind = line.len() - body.len();
        if ind < indent {
            break;
        }
        if ind == indent && body.starts_with(&format!("{field}:")) {
            return Some((i + 1, col, first));
        }
    }
    None
}

/// serde's `Unexpected` ("integer `3`", "string \"yes\"") as the author wrote it.
fn what_was_given(got: &str) -> String {
    let quoted = |prefix: &str| got.strip_prefix(prefix).map(str::to_string);
    if let Some(v) = quoted("integer ") {
        let v = v.trim_matches('`');
        if v.starts_with('-') {
            return format!("`{v}` is negative");
        }
        return format!("`{v}` is a number");
    }
    if let Some(v) = quoted("floating point ") {
        return format!("`{}` is a number", v.trim_matches('`'));
    }
    if let Some(v) = quoted("boolean ") {
        return format!("`{}` is a true/false value", v.trim_matches('`'));
    }
    if let Some(v) = quoted("string ") {
        return format!("`{}` is text", v.trim_matches('"'));
    }
    match got {
        "unit value" | "null" => "the value is empty".into(),
        "sequence" => "a list is given".into(),
        "map" => "a map is given".into(),
        other => other.to_string(),
    }
}

/// serde's `expected` text (a type's `expecting`) in the scenario's words.
fn expected(want: &str) -> String {
    let want = want.trim();
    match want {
        "a boolean" | "bool" => return "true or false".into(),
        "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" | "isize" => {
            return "a whole number of 0 or more, like 3".into();
        }
        "a nonzero u8" | "a nonzero u16" | "a nonzero u32" | "a nonzero u64" | "nonzero u32"
        | "a nonzero usize" => return "a whole number of at least 1, like 3".into(),
        "f32" | "f64" => return "a number like 0.5".into(),
        "a string" | "string" => return "text".into(),
        "a sequence" => return "a list, like [a, b]".into(),
        "a map" => return "a map of settings, like {key: value}".into(),
        "a Value::Tagged enum" => return "one of the names this key takes, written as text".into(),
        _ => {}
    }
    if want.starts_with("struct ") || want.starts_with("a map") {
        return "a map of settings, like {key: value}".into();
    }
    if want.starts_with("enum ") {
        return "one of the names this key takes, written as text".into();
    }
    if let Some(inner) = want.strip_prefix("a tuple of size ") {
        return format!("a list of {inner} values");
    }
    want.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_type_messages_become_the_scenario_words() {
        for (msg, want) in [
            (
                "invalid type: integer `3`, expected a boolean",
                "`3` is a number; expected true or false",
            ),
            (
                "invalid type: string \"yes\", expected a boolean",
                "`yes` is text; expected true or false",
            ),
            (
                "invalid value: integer `-1`, expected u32",
                "`-1` is negative; expected a whole number of 0 or more, like 3",
            ),
            (
                "invalid type: integer `3`, expected struct RawSelfHeal",
                "`3` is a number; expected a map of settings, like {key: value}",
            ),
            (
                "invalid type: floating point `2.5`, expected a nonzero u32",
                "`2.5` is a number; expected a whole number of at least 1, like 3",
            ),
            (
                "invalid type: string \"fast\", expected f64",
                "`fast` is text; expected a number like 0.5",
            ),
            (
                "unknown field `x`, expected `a`",
                "unknown field `x`, expected `a`",
            ),
        ] {
            assert_eq!(plain(msg), want);
        }
    }
}
