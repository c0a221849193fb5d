//! Compile-time guarantees, checked with trybuild: bad `#[covet]`
//! attributes are errors pointing at the field, and a column compared with
//! a value of another type does not compile.

#[test]
fn compile_fail() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
