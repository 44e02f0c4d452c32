//! A linear pre-scan of YAML nesting depth, run before the parser: deep flow nesting
//! (`[[[[...`) or block nesting (`- - - -`) costs the parser time that grows faster than
//! the file, so a file deeper than the bound is refused at the line where it crosses it.
//! It follows block indentation, compact sequence entries, flow brackets, quoted
//! strings, comments and block scalars; it only counts, it never decides validity.

/// Returns the 1-based (line, column) where nesting first exceeds `max`, if it does.
pub fn too_deep(text: &str, max: usize) -> Option<(usize, usize)> {
    // Columns of the open block collections.
    let mut blocks: Vec<usize> = Vec::new();
    let mut flow = 0usize;
    // Inside a quoted string that may continue on the next line.
    let mut quote: Option<u8> = None;
    // Lines indented more than this belong to a block scalar (`|`, `>`).
    let mut block_scalar: Option<usize> = None;
    for (n, line) in text.lines().enumerate() {
        let bytes = line.as_bytes();
        let indent = bytes.iter().take_while(|&&b| b == b' ').count();
        let blank = indent == bytes.len() || bytes[indent] == b'#';
        if let Some(owner) = block_scalar {
            if blank || indent > owner {
                continue;
            }
            block_scalar = None;
        }
        let mut i = indent;
        if flow == 0 && quote.is_none() {
            if blank {
                continue;
            }
            if line.starts_with("---") || line.starts_with("...") {
                blocks.clear();
                continue;
            }
            while blocks.last().is_some_and(|&c| c > indent) {
                blocks.pop();
            }
            if blocks.last() != Some(&indent) {
                blocks.push(indent);
            }
            // Compact entries: `- - x` opens a sequence inside a sequence on one line.
            while i < bytes.len() && bytes[i] == b'-' && bytes.get(i + 1) == Some(&b' ') {
                i += 1;
                while i < bytes.len() && bytes[i] == b' ' {
                    i += 1;
                }
                if i < bytes.len() && bytes[i] != b'#' {
                    blocks.push(i);
                    if blocks.len() > max {
                        return Some((n + 1, i + 1));
                    }
                }
            }
            if blocks.len() > max {
                return Some((n + 1, indent + 1));
            }
        }
        // The last significant byte before `i`, to tell where a node may start.
        let mut prev: Option<u8> = None;
        while i < bytes.len() {
            let b = bytes[i];
            if let Some(q) = quote {
                if b == b'\\' && q == b'"' {
                    i += 2;
                    continue;
                }
                if b == q {
                    quote = None;
                    prev = Some(b'x');
                }
                i += 1;
                continue;
            }
            let node_start = match prev {
                None => true,
                Some(p) => {
                    matches!(p, b':' | b'-' | b'?') || (flow > 0 && matches!(p, b'[' | b'{' | b','))
                }
            };
            match b {
                b' ' | b'\t' => {
                    i += 1;
                    continue;
                }
                b'#' if i == 0 || matches!(bytes[i - 1], b' ' | b'\t') => break,
                b'"' | b'\'' if node_start => quote = Some(b),
                b'[' | b'{' if flow > 0 || node_start => {
                    flow += 1;
                    if blocks.len() + flow > max {
                        return Some((n + 1, i + 1));
                    }
                }
                b']' | b'}' if flow > 0 => flow -= 1,
                b'|' | b'>' if flow == 0 && node_start && prev.is_some() => {
                    block_scalar = Some(indent);
                    break;
                }
                _ => {}
            }
            prev = Some(b);
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::too_deep;

    #[test]
    fn shipped_shapes_are_shallow() {
        let doc = "name: x\ndescription: >-\n  text with [brackets and {braces\n  and it's\nmodels:\n  pull:\n    poll: { interval: 1s, jitter: \"[\" }\nfaults:\n  - { kind: drift, latency: { dist: empirical, samples: [1s, 2s] } }\n  - kind: x\n    at: 1h # a [ comment\n";
        // Deepest: faults > entry > map > latency map > samples list.
        assert_eq!(too_deep(doc, 6), None);
        assert!(too_deep(doc, 5).is_some());
    }

    #[test]
    fn deep_flow_nesting_is_found_at_the_crossing_bracket() {
        let doc = format!("name: x\nfleet: {}{}\n", "[".repeat(100), "]".repeat(100));
        // `fleet:` is block level 1; bracket k opens level 1 + k.
        assert_eq!(too_deep(&doc, 64), Some((2, 7 + 64)));
    }

    #[test]
    fn deep_block_nesting_by_compact_entries_and_indentation() {
        let doc = format!("a:\n{}x\n", "- ".repeat(80));
        assert_eq!(too_deep(&doc, 64).map(|p| p.0), Some(2));
        let mut doc = String::new();
        for k in 0..80 {
            doc.push_str(&format!("{}k{k}:\n", " ".repeat(k)));
        }
        assert_eq!(too_deep(&doc, 64), Some((65, 65)));
    }

    #[test]
    fn a_hundred_sixty_thousand_levels_are_refused_in_linear_time() {
        let doc = format!(
            "name: x\nfleet: {}{}\n",
            "[".repeat(160_000),
            "]".repeat(160_000)
        );
        let t = std::time::Instant::now();
        assert!(too_deep(&doc, 64).is_some());
        assert!(t.elapsed().as_millis() < 200, "{:?}", t.elapsed());
    }
}
