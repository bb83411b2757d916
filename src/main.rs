//! The `gnutella` command line.

fn main() {
    println!("gnutella: under construction");
}
