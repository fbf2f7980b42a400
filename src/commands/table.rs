//! The plain-text tables `once`, `demo` and `status` print.

use crate::model::ItemDetails;
use std::io::Write;

/// The PACKAGE cell of an item: a CodeArts package's key; a billing resource's name with its
/// resource type code, e.g. `web-01 (hws.resource.type.vm)`.
pub(crate) fn item_cell(key: &str, details: Option<&ItemDetails>) -> String {
    match details.and_then(|d| d.name.as_deref()) {
        Some(name) => format!("{name} ({key})"),
        None => key.to_string(),
    }
}

/// Left-aligned columns separated by two spaces.
pub(crate) fn write_table(rows: &[Vec<String>], out: &mut dyn Write) -> std::io::Result<()> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(widths[c] - cell.chars().count() + 2));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}
