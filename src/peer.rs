//! The peer of a socket, from the address given to `connect()` or from `getpeername`.

use core::ffi::c_int;
use keepalive_config::Peer;
use libc::{sockaddr, socklen_t};

use crate::sys;

const SIN6_LEN_RFC2133: usize = 24;

/// The peer in the caller's address before `connect()`, copied through the kernel, which reports
/// an invalid pointer instead of crashing on it.
pub enum Before {
    /// `None`: not an IPv4 or IPv6 peer.
    Read(Option<Peer>),
    /// The kernel will refuse the address too (too long, or not readable): nothing to decide.
    Refused,
    /// A sandbox forbids `process_vm_readv`: to be read once the kernel has read it.
    Later,
}

pub fn before_connect(address: *const sockaddr, length: socklen_t) -> Before {
    let mut copy = zeroed_address();
    let Some(bytes) = as_bytes(&mut copy).get_mut(..length as usize) else {
        // Longer than any address: the kernel refuses it (EINVAL).
        return Before::Refused;
    };
    match sys::read_own_memory(address.cast(), bytes) {
        Ok(()) => Before::Read(peer_of(&copy, length)),
        Err(libc::EFAULT) => Before::Refused,
        Err(_) => Before::Later,
    }
}

/// The peer of an accepted socket.
pub fn of_accepted(fd: c_int) -> Option<Peer> {
    sys::getpeername(fd).ok().and_then(|(address, length)| peer_of(&address, length))
}

/// The peer in an address of `length` bytes, if it is IPv4 or IPv6 and long enough.
fn peer_of(address: &libc::sockaddr_storage, length: socklen_t) -> Option<Peer> {
    let length = length as usize;
    let start = (address as *const libc::sockaddr_storage).cast::<u8>();
    match c_int::from(address.ss_family) {
        libc::AF_INET if length >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: a sockaddr_storage holds any address, and all its bytes are initialised.
            let four = unsafe { core::ptr::read_unaligned(start.cast::<libc::sockaddr_in>()) };
            Some(Peer::v4(four.sin_addr.s_addr.to_ne_bytes(), u16::from_be(four.sin_port)))
        }
        // The kernel also takes the older IPv6 address without its scope id (RFC 2133), left zero here.
        libc::AF_INET6 if length >= SIN6_LEN_RFC2133 => {
            // SAFETY: as above.
            let six = unsafe { core::ptr::read_unaligned(start.cast::<libc::sockaddr_in6>()) };
            Some(Peer::v6(six.sin6_addr.s6_addr, u16::from_be(six.sin6_port)))
        }
        _ => None,
    }
}

/// The peer in the caller's address, after a `connect()` that read it.
///
/// # Safety
/// `length` bytes at `address` are readable.
pub unsafe fn after_connect(address: *const sockaddr, length: socklen_t) -> Option<Peer> {
    let mut copy = zeroed_address();
    let bytes = as_bytes(&mut copy);
    let length = length.min(bytes.len() as socklen_t);
    if address.is_null() {
        return None;
    }
    // SAFETY: `length` bytes are readable at `address` (the caller) and writable in `bytes`.
    unsafe { core::ptr::copy_nonoverlapping(address.cast::<u8>(), bytes.as_mut_ptr(), length as usize) };
    peer_of(&copy, length)
}

fn zeroed_address() -> libc::sockaddr_storage {
    // SAFETY: plain data, for which all zeros is a valid value.
    unsafe { core::mem::zeroed() }
}

fn as_bytes(address: &mut libc::sockaddr_storage) -> &mut [u8] {
    // SAFETY: the bytes of plain data, borrowed as long as it is.
    unsafe { core::slice::from_raw_parts_mut((address as *mut libc::sockaddr_storage).cast(), size_of_val(address)) }
}
