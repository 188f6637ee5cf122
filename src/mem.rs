//! `memcpy`, `memmove`, `memset`, `memcmp` and `bcmp` inside the library, hidden.
//!
//! The compiler calls these for copies and comparisons. Taken from the C library, each would be
//! one more symbol for the dynamic loader to look up in every process that loads us (measured:
//! about 800 instructions each, at every start). Hidden definitions bind at link time instead,
//! and are never exported, so the program's own calls still reach the C library's.

/// The functions under `prefix`: `memcpy` and friends in the library, `test_memcpy` and friends
/// in unit tests (which must keep the C library's own).
#[cfg(target_arch = "x86_64")]
macro_rules! memory_functions {
    ($prefix:literal) => {
        core::arch::global_asm!(
            ".pushsection .text.libkeepalive_mem,\"ax\",@progbits",
            concat!(".globl ", $prefix, "memcpy"),
            concat!(".hidden ", $prefix, "memcpy"),
            concat!(".globl ", $prefix, "memmove"),
            concat!(".hidden ", $prefix, "memmove"),
            concat!(".globl ", $prefix, "memset"),
            concat!(".hidden ", $prefix, "memset"),
            concat!(".globl ", $prefix, "memcmp"),
            concat!(".hidden ", $prefix, "memcmp"),
            concat!(".globl ", $prefix, "bcmp"),
            concat!(".hidden ", $prefix, "bcmp"),
            // memcpy(destination, source, length) -> destination: words, then the bytes left.
            concat!($prefix, "memcpy:"),
            "    mov rax, rdi",
            "    mov rcx, rdx",
            "    shr rcx, 3",
            "    rep movsq",
            "    mov rcx, rdx",
            "    and rcx, 7",
            "    rep movsb",
            "    ret",
            // memmove copies backwards when the destination starts inside the source.
            concat!($prefix, "memmove:"),
            "    mov rax, rdi",
            "    mov rcx, rdx",
            "    cmp rdi, rsi",
            "    jbe 2f",
            "    lea rsi, [rsi + rcx - 1]",
            "    lea rdi, [rdi + rcx - 1]",
            "    std",
            "    rep movsb",
            "    cld",
            "    ret",
            "2:  rep movsb",
            "    ret",
            // memset(destination, byte, length) -> destination: the byte in all eight lanes of a
            // word, words, then the bytes left.
            concat!($prefix, "memset:"),
            "    mov r8, rdi",
            "    movzx eax, sil",
            "    movabs r9, 0x0101010101010101",
            "    imul rax, r9",
            "    mov rcx, rdx",
            "    shr rcx, 3",
            "    rep stosq",
            "    mov rcx, rdx",
            "    and rcx, 7",
            "    rep stosb",
            "    mov rax, r8",
            "    ret",
            // memcmp(left, right, length) -> difference of the first differing bytes, or 0:
            // whole words while they are equal, then bytes (the first difference is in the
            // next eight).
            concat!($prefix, "memcmp:"),
            concat!($prefix, "bcmp:"),
            "    xor eax, eax",
            "5:  cmp rdx, 8",
            "    jb 6f",
            "    mov r8, qword ptr [rdi]",
            "    cmp r8, qword ptr [rsi]",
            "    jne 3f",
            "    add rdi, 8",
            "    add rsi, 8",
            "    sub rdx, 8",
            "    jmp 5b",
            "6:  test rdx, rdx",
            "    je 4f",
            "3:  movzx eax, byte ptr [rdi]",
            "    movzx ecx, byte ptr [rsi]",
            "    sub eax, ecx",
            "    jne 4f",
            "    inc rdi",
            "    inc rsi",
            "    dec rdx",
            "    jne 3b",
            "4:  ret",
            ".popsection",
        );
    };
}

#[cfg(all(not(test), target_arch = "x86_64"))]
memory_functions!("");
#[cfg(all(test, target_arch = "x86_64"))]
memory_functions!("test_");

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use core::ffi::{c_int, c_void};

    unsafe extern "C" {
        fn test_memcpy(destination: *mut c_void, source: *const c_void, length: usize) -> *mut c_void;
        fn test_memmove(destination: *mut c_void, source: *const c_void, length: usize) -> *mut c_void;
        fn test_memset(destination: *mut c_void, byte: c_int, length: usize) -> *mut c_void;
        fn test_memcmp(left: *const c_void, right: *const c_void, length: usize) -> c_int;
        fn test_bcmp(left: *const c_void, right: *const c_void, length: usize) -> c_int;
    }

    #[test]
    fn every_length_and_alignment() {
        let source: Vec<u8> = (0..64).map(|i| i * 3 + 1).collect();
        for offset in 0..8 {
            for length in 0..40 {
                let mut target = [0u8; 64];
                // SAFETY: the pointers cover `length` bytes of `source` and `target` from `offset`, 40 + 8 < 64.
                unsafe { test_memcpy(target[offset..].as_mut_ptr().cast(), source[offset..].as_ptr().cast(), length) };
                assert_eq!(target[offset..offset + length], source[offset..offset + length]);
                assert!(target[..offset].iter().chain(&target[offset + length..]).all(|&b| b == 0));
                // SAFETY: as above.
                unsafe { test_memset(target[offset..].as_mut_ptr().cast(), 0x5a, length) };
                assert!(target[offset..offset + length].iter().all(|&b| b == 0x5a));
                assert!(target[..offset].iter().chain(&target[offset + length..]).all(|&b| b == 0));
            }
        }
    }

    #[test]
    fn copy_and_set() {
        let source: Vec<u8> = (0..=255).collect();
        let mut target = vec![0u8; 256];
        // SAFETY: every call stays within the 256 bytes of `source` and `target`.
        unsafe {
            assert_eq!(
                test_memcpy(target.as_mut_ptr().cast(), source.as_ptr().cast(), 256),
                target.as_mut_ptr().cast()
            );
            assert_eq!(target, source);
            assert_eq!(test_memset(target.as_mut_ptr().cast(), 0x1ab, 100), target.as_mut_ptr().cast());
            assert!(target[..100].iter().all(|&b| b == 0xab) && target[100] == 100);
            test_memcpy(target.as_mut_ptr().cast(), source.as_ptr().cast(), 0);
            assert_eq!(target[0], 0xab);
        }
    }

    #[test]
    fn overlapping_moves_both_ways() {
        let original: Vec<u8> = (0..64).collect();
        for (from, to, length) in [(0, 10, 50), (10, 0, 50), (5, 5, 20), (0, 1, 63), (1, 0, 63), (3, 4, 0)] {
            let mut ours = original.clone();
            let mut expected = original.clone();
            expected.copy_within(from..from + length, to);
            let base = ours.as_mut_ptr();
            // SAFETY: `from + length` and `to + length` are at most 64, the length of `ours`.
            let result = unsafe { test_memmove(base.add(to).cast(), base.add(from).cast(), length) };
            // SAFETY: `to` is at most 64, inside `ours` or one past its end.
            assert_eq!(result, unsafe { base.add(to) }.cast());
            assert_eq!(ours, expected, "{from} -> {to}, {length}");
        }
    }

    #[test]
    fn comparisons() {
        // SAFETY: both slices are `left.len()` bytes long in every call below.
        let compare = |left: &[u8], right: &[u8]| unsafe {
            (
                test_memcmp(left.as_ptr().cast(), right.as_ptr().cast(), left.len()).signum(),
                test_bcmp(left.as_ptr().cast(), right.as_ptr().cast(), left.len()) != 0,
            )
        };
        assert_eq!(compare(b"", b""), (0, false));
        assert_eq!(compare(b"abc", b"abc"), (0, false));
        assert_eq!(compare(b"abd", b"abc"), (1, true));
        assert_eq!(compare(b"ab\x01", b"ab\xff"), (-1, true));
        assert_eq!(compare(b"\xffbc", b"abc"), (1, true), "bytes compare unsigned");
        assert_eq!(compare(b"KEEPALIVE_IDLE", b"KEEPALIVE_IDLE"), (0, false));
        assert_eq!(compare(b"KEEPALIVE_IDLE", b"KEEPALIVE_SKIP"), (-1, true));
        assert_eq!(compare(b"0123456789abcdefX", b"0123456789abcdefY"), (-1, true));
        assert_eq!(compare(b"01234567\xff", b"012345670"), (1, true));
        assert_eq!(compare(b"z1234567", b"a1234567"), (1, true));
    }
}
