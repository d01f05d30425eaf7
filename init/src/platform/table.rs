//! A fixed-capacity vector: tables of workers and results without an allocator.

pub struct Table<T, const N: usize> {
    items: [T; N],
    len: usize,
}

impl<T: Default, const N: usize> Default for Table<T, N> {
    fn default() -> Self {
        Table {
            items: core::array::from_fn(|_| T::default()),
            len: 0,
        }
    }
}

impl<T: Default, const N: usize> Table<T, N> {
    /// Appends, or gives the item back when full.
    pub fn push(&mut self, item: T) -> Result<(), T> {
        if self.len == N {
            return Err(item);
        }
        self.items[self.len] = item;
        self.len += 1;
        Ok(())
    }

    /// Removes item `i`, moving the last one into its place.
    pub fn swap_remove(&mut self, i: usize) -> T {
        let item = core::mem::take(&mut self.items[i]);
        self.len -= 1;
        self.items.swap(i, self.len);
        item
    }

    /// A table in memory of its own, never unmapped, for tables too big for PID 1's
    /// stack. Shared anonymous memory, although only PID 1 uses it: a fork copies the
    /// page tables of private memory into the child, and thousands of workers would
    /// each pay for them; the pages of a shared mapping a child never touches cost it
    /// nothing. Where the kernel has madvise, children do not get the mapping at all.
    pub fn mapped() -> Result<&'static mut Self, rustix::io::Errno> {
        use rustix::mm::{Advice, MapFlags, ProtFlags};
        let len = core::mem::size_of::<Self>();
        let prot = ProtFlags::READ | ProtFlags::WRITE;
        // SAFETY: a fresh mapping of the table's size and page alignment (more than any
        // T needs), never unmapped; every field is written before the reference is
        // made. Children of a fork never touch it.
        unsafe {
            let p = rustix::mm::mmap_anonymous(core::ptr::null_mut(), len, prot, MapFlags::SHARED)?;
            // Best effort: a kernel without madvise (ADVISE_SYSCALLS=n) forks it.
            let _ = rustix::mm::madvise(p, len, Advice::LinuxDontFork);
            let p = p as *mut Self;
            core::ptr::addr_of_mut!((*p).len).write(0);
            let items = core::ptr::addr_of_mut!((*p).items) as *mut T;
            for i in 0..N {
                items.add(i).write(T::default());
            }
            Ok(&mut *p)
        }
    }

    pub fn clear(&mut self) {
        for it in &mut self.items[..self.len] {
            *it = T::default();
        }
        self.len = 0;
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn as_slice(&self) -> &[T] {
        &self.items[..self.len]
    }

    pub fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.items[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_remove_and_capacity() {
        let mut t: Table<u32, 3> = Table::default();
        assert!(t.push(1).is_ok() && t.push(2).is_ok() && t.push(3).is_ok());
        assert_eq!(t.push(4), Err(4));
        assert_eq!(t.swap_remove(0), 1);
        assert_eq!(t.as_slice(), &[3, 2]);
        t.clear();
        assert!(t.is_empty());
    }

    #[test]
    fn a_mapped_table_starts_empty() {
        let t: &mut Table<(u64, bool), 5000> = Table::mapped().unwrap();
        assert!(t.is_empty());
        for i in 0..5000 {
            assert!(t.push((i, true)).is_ok());
        }
        assert_eq!(t.push((0, false)), Err((0, false)));
        assert_eq!(t.as_slice()[4999], (4999, true));
    }
}
