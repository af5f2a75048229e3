// For each stdin line (a JSON text), print what serde_json makes of it after a
// round trip through serde_json::Value, or "ERROR <message>".
use std::io::{self, BufRead, Write};

fn main() {
    let stdin = io::stdin();
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    for line in stdin.lock().lines() {
        let line = line.unwrap();
        match serde_json::from_str::<serde_json::Value>(&line) {
            Ok(v) => writeln!(out, "{}", serde_json::to_string(&v).unwrap()).unwrap(),
            Err(e) => writeln!(out, "ERROR {}", e).unwrap(),
        }
    }
}
