//! For each EIF path argument, print what AWS's EifReader::from_eif says:
//! "<path>\tACCEPT\tcrc=<true|false>" or "<path>\tREJECT\t<message>".
pub mod defs;
pub mod utils;
use utils::eif_reader::EifReader;

fn main() {
    for path in std::env::args().skip(1) {
        match EifReader::from_eif(path.clone()) {
            Ok(r) => println!("{}\tACCEPT\tcrc={}", path, r.check_crc()),
            Err(e) => println!("{}\tREJECT\t{}", path, e.replace('\n', " ")),
        }
    }
}
