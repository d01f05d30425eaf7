//! The one error type of the guest: where it happened and a message for the `error` record.

use crate::platform::buf::Buf;
pub use schedbox_protocol::vocab::ErrorPlace;

pub type Msg = Buf<512>;

#[derive(Clone)]
pub struct Fail {
    /// The `where` key.
    pub place: ErrorPlace,
    pub msg: Msg,
}

pub type Res<T> = Result<T, Fail>;

/// Builds a `Fail` with a formatted message: `fail!(Cgroup, "mkdir {}: {}", p, e)`.
#[macro_export]
macro_rules! fail {
    ($place:ident, $($arg:tt)*) => {{
        let mut msg = $crate::platform::fail::Msg::new();
        let _ = core::fmt::Write::write_fmt(&mut msg, format_args!($($arg)*));
        $crate::platform::fail::Fail { place: $crate::platform::fail::ErrorPlace::$place, msg }
    }};
}

/// Shows an errno as `ENOENT (2)`, naming the common ones.
pub struct Errno(pub rustix::io::Errno);

impl core::fmt::Display for Errno {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        use rustix::io::Errno as E;
        let name = match self.0 {
            E::NOENT => "ENOENT",
            E::PERM => "EPERM",
            E::ACCESS => "EACCES",
            E::BUSY => "EBUSY",
            E::INVAL => "EINVAL",
            E::EXIST => "EEXIST",
            E::NOSPC => "ENOSPC",
            E::NOMEM => "ENOMEM",
            E::AGAIN => "EAGAIN",
            E::SRCH => "ESRCH",
            E::NODEV => "ENODEV",
            E::NOTDIR => "ENOTDIR",
            E::OPNOTSUPP => "EOPNOTSUPP",
            E::NOTEMPTY => "ENOTEMPTY",
            E::RANGE => "ERANGE",
            E::NOSYS => "ENOSYS",
            E::NOEXEC => "ENOEXEC",
            E::IO => "EIO",
            _ => "errno",
        };
        write!(f, "{} ({})", name, self.0.raw_os_error())
    }
}
