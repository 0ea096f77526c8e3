//! CSV as SPEC §6 wants it: RFC 4180, UTF-8, a header row, `\n` line ends.
//!
//! A field is quoted only if it holds a comma, a double quote, CR or LF; quotes inside are doubled.

/// The CSV text of a header and rows.
pub fn to_csv(columns: &[String], rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    push_record(&mut out, columns);
    out.push_str(&rows_to_csv(rows));
    out
}

/// The CSV text of rows without a header: what follows [`to_csv`]'s when a result comes in parts.
pub fn rows_to_csv(rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    for row in rows {
        push_record(&mut out, row);
    }
    out
}

fn push_record(out: &mut String, fields: &[String]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if field.contains([',', '"', '\r', '\n']) {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(field);
        }
    }
    out.push('\n');
}
