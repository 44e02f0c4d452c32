//! Finds the line and column of a key path (`models.pull.poll.interval`,
//! `faults[2].at`) in scenario text, for errors found after parsing, when the YAML
//! parser's own position is gone. It reads block mappings, sequences and one-line flow
//! maps, which is how scenario files are written; anything else yields no position.

/// Returns a 1-based (line, column) of the key, or of the closest enclosing key found.
pub fn locate(text: &str, path: &str) -> Option<(usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut start = 0usize; // first line to search
    let mut min_indent: Option<usize> = None; // children are indented more than this
    let mut found: Option<(usize, usize)> = None;
    for seg in split(path) {
        match seg {
            Seg::Key(key) => {
                // A flow map on the line already found: `poll: { interval: 120s }`.
                if let Some((l, c)) = found {
                    let line = lines[l - 1];
                    if let Some(pos) = find_key(&line[c - 1..], key) {
                        found = Some((l, c + pos));
                        continue;
                    }
                }
                let mut hit = None;
                for (i, line) in lines.iter().enumerate().skip(start) {
                    let indent = line.len() - line.trim_start().len();
                    let body = line.trim_start().trim_start_matches("- ");
                    if line.trim().is_empty() || line.trim_start().starts_with('#') {
                        continue;
                    }
                    if let Some(m) = min_indent
                        && indent <= m
                        && i > start
                    {
                        break;
                    }
                    if body.starts_with(&format!("{key}:")) {
                        hit = Some((i + 1, line.len() - body.len() + 1, indent));
                        break;
                    }
                    if let Some(pos) = find_key(line, key)
                        && line.contains('{')
                    {
                        hit = Some((i + 1, pos + 1, indent));
                        break;
                    }
                }
                let (l, c, indent) = hit?;
                found = Some((l, c));
                start = l; // children start on the next line
                min_indent = Some(indent);
            }
            Seg::Index(n) => {
                let (l, _) = found?;
                let mut count = 0;
                let mut item = None;
                for (i, line) in lines.iter().enumerate().skip(l) {
                    let t = line.trim_start();
                    if t.is_empty() || t.starts_with('#') {
                        continue;
                    }
                    let indent = line.len() - t.len();
                    if let Some(m) = min_indent
                        && indent < m
                    {
                        break;
                    }
                    if t.starts_with("- ") || t == "-" {
                        if count == n {
                            item = Some((i + 1, indent + 3));
                            break;
                        }
                        count += 1;
                    }
                }
                let (il, ic) = item?;
                found = Some((il, ic));
                start = il - 1;
                min_indent = None;
            }
        }
    }
    found
}

enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

fn split(path: &str) -> Vec<Seg<'_>> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut rest = part;
        if let Some(b) = rest.find('[') {
            out.push(Seg::Key(&rest[..b]));
            rest = &rest[b..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let e = stripped.find(']').unwrap_or(stripped.len());
                if let Ok(n) = stripped[..e].parse() {
                    out.push(Seg::Index(n));
                }
                rest = stripped.get(e + 1..).unwrap_or("");
            }
        } else {
            out.push(Seg::Key(rest));
        }
    }
    out
}

/// Byte offset of `key:` in a line where it stands as a key (after `{`, `,`, space or
/// the line start).
fn find_key(line: &str, key: &str) -> Option<usize> {
    let pat = format!("{key}:");
    let mut from = 0;
    while let Some(p) = line[from..].find(&pat) {
        let at = from + p;
        let before = line[..at].chars().last();
        if matches!(before, None | Some(' ' | '{' | ',' | '-')) {
            return Some(at);
        }
        from = at + pat.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::locate;

    const DOC: &str = "name: x\nmodels:\n  push:\n    runners: 2\n  pull:\n    poll: { interval: 120s, jitter: 60s }\nfaults:\n  - { kind: drift, at: 1h }\n  - kind: bad_release\n    at: 4h\n";

    #[test]
    fn finds_block_and_flow_keys() {
        assert_eq!(locate(DOC, "models.push.runners"), Some((4, 5)));
        assert_eq!(locate(DOC, "models.pull.poll.jitter"), Some((6, 29)));
        assert_eq!(locate(DOC, "faults[1].at"), Some((10, 5)));
        assert_eq!(locate(DOC, "faults[0].at"), Some((8, 20)));
        assert_eq!(locate(DOC, "nothing.here"), None);
    }
}
