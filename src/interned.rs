//! Interned strings, for the in-memory structures built from the register
//! (the address book, the search index), where the same street, postcode,
//! settlement and house number recur hundreds of thousands of times.

/// Interned strings: each distinct text stored once, named by a `u32`. The
/// build-time table hashes with FxHash: the address book looks up four texts
/// per address, 8,000,000 at full size, and the texts are the utility's
/// register, not a visitor's input.
#[derive(Default)]
pub struct Strings {
    texts: Vec<Box<str>>,
    index: rustc_hash::FxHashMap<Box<str>, u32>,
}

impl Strings {
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.texts.len() as u32;
        self.texts.push(s.into());
        self.index.insert(s.into(), i);
        i
    }

    pub fn get(&self, i: u32) -> &str {
        &self.texts[i as usize]
    }

    /// Drops the build-time lookup table (only `get` is needed after).
    pub fn freeze(&mut self) {
        self.index = Default::default();
    }

    pub fn bytes(&self) -> usize {
        self.texts.iter().map(|t| t.len() + 16).sum::<usize>()
    }
}
