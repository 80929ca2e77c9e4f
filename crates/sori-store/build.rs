//! `sqlx::migrate!` embeds the migration files at compile time, but cargo does
//! not know about them; tell it to rebuild when one is added or edited.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
