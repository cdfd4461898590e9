//! Lesson prose lives in `lessons/<name>.md`, cut into sections by mdBook
//! anchors (`<!-- ANCHOR: name -->` … `<!-- ANCHOR_END: name -->`). The book
//! includes the same sections; this module finds them.

/// The text between `ANCHOR: name` and `ANCHOR_END: name`, with the anchor
/// lines of any nested sections left out (as mdBook does).
pub fn section(text: &str, name: &str) -> Option<String> {
    let mut inside = false;
    let mut found = false;
    let mut out = Vec::new();
    for line in text.lines() {
        match anchor(line) {
            Some(("ANCHOR", n)) if n == name => {
                inside = true;
                found = true;
            }
            Some(("ANCHOR_END", n)) if n == name => inside = false,
            Some(_) => {}
            None if inside => out.push(line),
            None => {}
        }
    }
    found.then(|| out.join("\n").trim_matches('\n').to_string())
}

/// Every section name defined in a text, in order.
#[cfg(test)]
pub fn section_names(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(anchor)
        .filter(|(kind, _)| *kind == "ANCHOR")
        .map(|(_, name)| name)
        .collect()
}

fn anchor(line: &str) -> Option<(&str, &str)> {
    let body = line
        .trim()
        .strip_prefix("<!--")?
        .strip_suffix("-->")?
        .trim();
    let (kind, name) = body.split_once(':')?;
    let kind = kind.trim();
    (kind == "ANCHOR" || kind == "ANCHOR_END").then(|| (kind, name.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
<!-- ANCHOR: outer -->
A
<!-- ANCHOR: inner -->
B
<!-- ANCHOR_END: inner -->
<!-- ANCHOR_END: outer -->
";

    #[test]
    fn sections_nest_and_drop_anchor_lines() {
        assert_eq!(section(TEXT, "outer").as_deref(), Some("A\nB"));
        assert_eq!(section(TEXT, "inner").as_deref(), Some("B"));
        assert_eq!(section(TEXT, "missing"), None);
        assert_eq!(section_names(TEXT), vec!["outer", "inner"]);
    }
}
