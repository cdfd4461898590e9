//! Embed the committed mini root file system skeleton (`rootfs/`) in the
//! binary: every directory, and every file with its bytes. A `.keep` file
//! only marks an empty directory (git keeps no empty directories).

use std::fmt::Write;
use std::path::Path;

fn walk(root: &Path, dir: &Path, out: &mut String) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        if path.is_dir() {
            writeln!(out, "    Entry::Dir({rel:?}),").unwrap();
            walk(root, &path, out);
        } else if entry.file_name() != ".keep" {
            let abs = path.canonicalize().unwrap();
            writeln!(
                out,
                "    Entry::File({rel:?}, include_bytes!({:?})),",
                abs.to_str().unwrap()
            )
            .unwrap();
        }
    }
}

fn main() {
    let root = Path::new("rootfs");
    println!("cargo:rerun-if-changed=rootfs");
    let mut table = String::from("pub const SKELETON: &[Entry] = &[\n");
    walk(root, root, &mut table);
    table.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("skeleton.rs");
    std::fs::write(out, table).unwrap();
}
