//! The variables as `from_values` and `name_index` read them: small numbers and one array of text,
//! built at compile time from `VARIABLES`. Every reference a `Variable` holds would cost the
//! preloaded library a relocation (24 bytes of its file, and work each time it is loaded); an
//! offset into the text costs none.

use crate::{Kind, NAMES, VARIABLES};
use core::ffi::CStr;
use core::ops::Range;

/// One variable: where its names and texts are in `TEXT`, and what it takes.
#[derive(Clone, Copy)]
pub(crate) struct Packed {
    pub(crate) kind: Kind,
    /// Where its own name is in `NAMES` (and its text in `TEXT`); its alias follows if it has
    /// one, then its legacy names, up to (not including) `names_end`.
    name: u8,
    aliased: bool,
    names_end: u8,
    expected: u8,
    legacy_expected: u8,
}

impl Packed {
    /// Where its own name is in `NAMES`.
    pub(crate) fn name(&self) -> u8 {
        self.name
    }

    /// Where its alias is in `NAMES`, if it has one.
    pub(crate) fn alias(&self) -> Option<u8> {
        self.aliased.then_some(self.name + 1)
    }

    /// Where its legacy names are in `NAMES`.
    pub(crate) fn legacy(&self) -> Range<u8> {
        self.name + 1 + u8::from(self.aliased)..self.names_end
    }

    pub(crate) fn expected(&self) -> &'static str {
        text(self.expected)
    }

    pub(crate) fn legacy_expected(&self) -> &'static str {
        text(self.legacy_expected)
    }
}

/// `VARIABLES`, packed, in the same order.
pub(crate) const PACKED: [Packed; VARIABLES.len()] = TABLES.packed;

/// Every name, in the order of `NAMES`, from `TEXT`.
pub(crate) fn names() -> impl Iterator<Item = &'static CStr> {
    (0..NAMES.len() as u8).map(name)
}

/// `NAMES[index]`, from `TEXT`, where the names come first.
pub(crate) fn name(index: u8) -> &'static CStr {
    if usize::from(index) >= NAMES.len() {
        return c"";
    }
    // SAFETY: a name's text, from one start to the next, is the name with its NUL (see `tables`).
    unsafe { CStr::from_bytes_with_nul_unchecked(text(index).as_bytes()) }
}

/// Text number `index`, or nothing if there is no such text.
fn text(index: u8) -> &'static str {
    let index = usize::from(index);
    let (Some(&start), Some(&end)) = (STARTS.get(index), STARTS.get(index + 1)) else {
        return "";
    };
    let bytes = TEXT.get(usize::from(start)..usize::from(end)).unwrap_or_default();
    // SAFETY: every start lies between two of the texts, each one whole UTF-8 (a name is ASCII),
    // so from one start to another is whole UTF-8 too.
    unsafe { core::str::from_utf8_unchecked(bytes) }
}

/// The most texts there can be: every name, and two `expected` texts for each variable.
const MOST_TEXTS: usize = NAMES.len() + 2 * VARIABLES.len();

struct Tables {
    /// Each name with its NUL, in the order of `NAMES`, then each distinct `expected` text once.
    texts: [&'static [u8]; MOST_TEXTS],
    count: usize,
    packed: [Packed; VARIABLES.len()],
}

impl Tables {
    /// The index of `text` in `texts`, added if it is not there yet.
    const fn add(&mut self, text: &'static [u8]) -> u8 {
        let mut index = 0;
        while index < self.count && !same(self.texts[index], text) {
            index += 1;
        }
        if index == self.count {
            self.texts[index] = text;
            self.count += 1;
        }
        index as u8
    }
}

const fn same(left: &[u8], right: &[u8]) -> bool {
    if left.len() != right.len() {
        return false;
    }
    let mut index = 0;
    while index < left.len() && left[index] == right[index] {
        index += 1;
    }
    index == left.len()
}

const TABLES: Tables = {
    let unset = Packed { kind: Kind::Switch, name: 0, aliased: false, names_end: 0, expected: 0, legacy_expected: 0 };
    let mut tables = Tables { texts: [&[]; MOST_TEXTS], count: 0, packed: [unset; VARIABLES.len()] };
    let mut index = 0;
    while index < NAMES.len() {
        assert!(tables.add(NAMES[index].to_bytes_with_nul()) as usize == index, "names are distinct");
        index += 1;
    }
    let (mut variable, mut next_name) = (0, 0);
    while variable < VARIABLES.len() {
        let read = VARIABLES[variable];
        let aliased = read.alias.is_some();
        let names_end = next_name + 1 + aliased as usize + read.legacy.len();
        assert!(same(NAMES[next_name].to_bytes(), read.name.to_bytes()), "NAMES follows VARIABLES");
        tables.packed[variable] = Packed {
            kind: read.kind,
            name: next_name as u8,
            aliased,
            names_end: names_end as u8,
            expected: tables.add(read.expected.as_bytes()),
            legacy_expected: tables.add(read.legacy_expected().as_bytes()),
        };
        next_name = names_end;
        variable += 1;
    }
    assert!(next_name == NAMES.len() && tables.count < u8::MAX as usize);
    tables
};

const TEXT_LENGTH: usize = {
    let (mut length, mut index) = (0, 0);
    while index < TABLES.count {
        length += TABLES.texts[index].len();
        index += 1;
    }
    assert!(length <= u16::MAX as usize);
    length
};

/// Every text, end to end.
static TEXT: [u8; TEXT_LENGTH] = {
    let mut all = [0; TEXT_LENGTH];
    let (mut next, mut index) = (0, 0);
    while index < TABLES.count {
        let text = TABLES.texts[index];
        let mut byte = 0;
        while byte < text.len() {
            all[next] = text[byte];
            next += 1;
            byte += 1;
        }
        index += 1;
    }
    all
};

/// Where each text starts in `TEXT`, and where the last one ends.
static STARTS: [u16; TABLES.count + 1] = {
    let mut starts = [0; TABLES.count + 1];
    let mut index = 0;
    while index < TABLES.count {
        starts[index + 1] = starts[index] + TABLES.texts[index].len() as u16;
        index += 1;
    }
    starts
};
