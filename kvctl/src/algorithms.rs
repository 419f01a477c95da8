//! `kvctl algorithms`: every algorithm, its key sizes, what its keys can
//! do and what they do by default, from libkeyvault's table (the module's).

use crate::fail::Fail;
use crate::inout::print_line;
use keyvault::{Algorithm, Caps};
use serde_json::{json, Value};

/// Key sizes in bits: `256`, or `128..512 (default 256)`.
fn sizes(alg: Algorithm) -> String {
    let b = alg.key_bits();
    if b.min == b.max {
        b.min.to_string()
    } else {
        format!("{}..{} (default {})", b.min, b.max, b.default)
    }
}

/// Operations as a comma-separated list (what `--usage` takes).
fn ops(c: Caps) -> String {
    c.names().replace('|', ",")
}

/// The rows of the table: algorithm, key bits, usages, default usage.
fn rows() -> Vec<[String; 4]> {
    Algorithm::ALL
        .iter()
        .map(|&a| {
            [
                a.name().to_string(),
                sizes(a),
                ops(a.usages()),
                ops(a.default_usage()),
            ]
        })
        .collect()
}

/// The table, columns aligned, with a header line.
fn table() -> String {
    let header = ["ALGORITHM", "KEY BITS", "USAGES", "DEFAULT USAGE"].map(String::from);
    let rows: Vec<[String; 4]> = std::iter::once(header).chain(rows()).collect();
    let mut width = [0; 4];
    for row in &rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let lines: Vec<String> = rows
        .iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(width)
                .map(|(cell, w)| format!("{cell:w$}"))
                .collect();
            cells.join("  ").trim_end().to_string()
        })
        .collect();
    lines.join("\n")
}

/// The JSON array: one object per algorithm.
fn json() -> Value {
    Algorithm::ALL
        .iter()
        .map(|&a| {
            let b = a.key_bits();
            json!({
                "name": a.name(),
                "bits": { "min": b.min, "max": b.max, "default": b.default },
                "usages": a.usages().iter_names().map(|(n, _)| n.to_ascii_lowercase()).collect::<Vec<_>>(),
                "default_usage": a.default_usage().iter_names().map(|(n, _)| n.to_ascii_lowercase()).collect::<Vec<_>>(),
            })
        })
        .collect()
}

/// Prints the table, or with --json the array.
pub fn print(as_json: bool) -> Result<(), Fail> {
    if as_json {
        print_line(json())
    } else {
        print_line(table())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_every_algorithm_its_sizes_and_usages() {
        let t = table();
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 1 + Algorithm::ALL.len());
        assert!(lines[0].starts_with("ALGORITHM"), "{t}");
        let row = |name: &str| {
            lines
                .iter()
                .find(|l| l.split_whitespace().next() == Some(name))
                .unwrap_or_else(|| panic!("no {name} in\n{t}"))
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(
            row("aes256-gcm"),
            "aes256-gcm 256 encrypt,decrypt,wrap,unwrap encrypt,decrypt"
        );
        assert_eq!(
            row("hmac-sha512"),
            "hmac-sha512 128..1024 (default 512) mac,derive mac,derive"
        );
        assert_eq!(row("ed25519"), "ed25519 256 sign,verify sign,verify");
        assert_eq!(row("x25519"), "x25519 256 exchange exchange");
        // The columns line up: every row's usages start where the header's do.
        let col = lines[0].find("USAGES").unwrap();
        assert!(lines[1..].iter().all(|l| l[col - 2..col] == *"  "), "{t}");
    }

    #[test]
    fn the_json_is_a_list_of_objects() {
        let j = json();
        let list = j.as_array().unwrap();
        assert_eq!(list.len(), Algorithm::ALL.len());
        let hmac = list.iter().find(|a| a["name"] == "hmac-sha256").unwrap();
        assert_eq!(
            hmac["bits"],
            json!({ "min": 128, "max": 512, "default": 256 })
        );
        assert_eq!(hmac["usages"], json!(["mac", "derive"]));
        assert_eq!(hmac["default_usage"], json!(["mac", "derive"]));
        let gcm = list.iter().find(|a| a["name"] == "aes256-gcm").unwrap();
        assert_eq!(
            gcm["usages"],
            json!(["encrypt", "decrypt", "wrap", "unwrap"])
        );
    }
}
