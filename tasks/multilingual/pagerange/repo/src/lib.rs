//! Page selections such as `1-3,7,10-12`, as print dialogs take them.

use std::fmt;

#[derive(Debug, PartialEq, Eq)]
pub enum Error {
    /// A part that is neither a page number nor a `first-last` range.
    Invalid(String),
    /// A range whose last page comes before its first.
    Backwards(u32, u32),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Invalid(part) => write!(f, "not a page or a range: {:?}", part),
            Error::Backwards(first, last) => write!(f, "range {}-{} runs backwards", first, last),
        }
    }
}

/// The pages of a selection, in the order given, repeats kept.
pub fn parse(selection: &str) -> Result<Vec<u32>, Error> {
    let mut pages = Vec::new();
    for part in selection.split(',').map(str::trim).filter(|part| !part.is_empty()) {
        match part.split_once('-') {
            Some((first, last)) => {
                let first = parse_page(first, part)?;
                let last = parse_page(last, part)?;
                if last < first {
                    return Err(Error::Backwards(first, last));
                }
                pages.extend(first..last);
            }
            None => pages.push(parse_page(part, part)?),
        }
    }
    Ok(pages)
}

fn parse_page(text: &str, part: &str) -> Result<u32, Error> {
    text.trim().parse().map_err(|_| Error::Invalid(part.to_string()))
}
