use pagerange::{parse, Error};

#[test]
fn single_pages_keep_their_order() {
    assert_eq!(parse("7, 2,5").unwrap(), vec![7, 2, 5]);
}

#[test]
fn empty_parts_are_skipped() {
    assert_eq!(parse(",3,,").unwrap(), vec![3]);
}

#[test]
fn garbage_is_an_error() {
    assert_eq!(parse("1,x"), Err(Error::Invalid("x".to_string())));
}

#[test]
fn backwards_range_is_an_error() {
    assert_eq!(parse("9-4"), Err(Error::Backwards(9, 4)));
}
