//! Opening: file creation and the checks that run before anything is written.

use super::*;
use rusqlite::{Connection, OpenFlags};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Creates the parent directory (0700) and an empty file (0600) when missing. SQLite treats an
/// empty file as a new database and gives its WAL and shared-memory files the same mode.
pub(super) fn create_if_missing(path: &Path) -> Result<(), StateError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};

    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(|source| StateError::Io {
                    path: path.to_path_buf(),
                    what: "creating the state directory",
                    source,
                })?;
        }
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StateError::Io {
            path: path.to_path_buf(),
            what: "creating the state file",
            source,
        }),
    }
}

/// One writer per state file. SQLite keeps each transaction consistent, but two processes
/// delivering from one outbox (a `renewd once` beside the running daemon) could both send the
/// same pending message. An exclusive `flock` on `<state file>.lock`, released by the kernel
/// when the process ends however it ends, rules that out; the file holds the holder's pid so
/// the refusal can name it. Readers (`renewd status`) take no lock.
#[derive(Debug)]
pub(super) struct WriterLock {
    _file: std::fs::File,
}

impl WriterLock {
    pub(super) fn acquire(state_path: &Path) -> Result<WriterLock, StateError> {
        use std::io::{Seek, Write};
        use std::os::unix::fs::OpenOptionsExt;

        // Next to the real file, so every spelling of its path (symlinks) finds one lock.
        let real_path = std::fs::canonicalize(state_path).map_err(|source| StateError::Io {
            path: state_path.to_path_buf(),
            what: "resolving the path",
            source,
        })?;
        let mut lock_path = real_path.clone().into_os_string();
        lock_path.push(".lock");
        let lock_path = PathBuf::from(lock_path);
        let io_err = |what: &'static str| {
            let path = lock_path.clone();
            move |source| StateError::Io { path, what, source }
        };
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .map_err(io_err("opening the lock file"))?;
        // Made by root (a `renewd once` by hand), the lock file must stay usable by the service
        // user that owns the state file, as SQLite does with its -wal and -shm files.
        if let (Ok(lock), Ok(state)) = (file.metadata(), std::fs::metadata(&real_path)) {
            use std::os::unix::fs::MetadataExt;
            if (lock.uid(), lock.gid()) != (state.uid(), state.gid()) {
                // Only root may give a file away; for anyone else this fails, and is moot.
                let _ = std::os::unix::fs::fchown(&file, Some(state.uid()), Some(state.gid()));
            }
        }
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                // Best effort: the pid only makes the message more useful.
                let _ = file.read_to_string(&mut holder);
                return Err(StateError::InUse {
                    path: state_path.to_path_buf(),
                    holder: holder.trim().parse().ok(),
                });
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(io_err("locking the lock file")(source))
            }
        }
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "{}", std::process::id()))
            .map_err(io_err("writing the lock file"))?;
        Ok(WriterLock { _file: file })
    }
}

/// Opens the file after checking its header, then its integrity and schema version, without
/// writing anything: a corrupt file or one from a newer renewd is refused untouched. Returns the
/// connection and the schema version found.
pub(super) fn open_checked(
    path: &Path,
    flags: OpenFlags,
    what: &'static str,
) -> Result<(Connection, u32), StateError> {
    check_header(path)?;
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(sql_err(path, what))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(sql_err(path, "setting the busy timeout"))?;
    let found = check_integrity(&conn, path)?;
    if found > SCHEMA_VERSION {
        return Err(StateError::NewerSchema {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok((conn, found))
}

/// Refuses a non-empty file that does not start with the SQLite magic, before SQLite touches it.
pub(super) fn check_header(path: &Path) -> Result<(), StateError> {
    let io_err = |source| StateError::Io {
        path: path.to_path_buf(),
        what: "reading the file header",
        source,
    };
    let file = std::fs::File::open(path).map_err(io_err)?;
    let mut header = Vec::with_capacity(SQLITE_MAGIC.len());
    file.take(SQLITE_MAGIC.len() as u64)
        .read_to_end(&mut header)
        .map_err(io_err)?;
    if header.is_empty() || header.as_slice() == SQLITE_MAGIC {
        Ok(())
    } else {
        Err(StateError::Corrupt {
            path: path.to_path_buf(),
            detail: "not a SQLite database (wrong file header)".to_string(),
        })
    }
}

/// Reads the schema version and runs `PRAGMA quick_check`, reporting damage as `Corrupt`.
pub(super) fn check_integrity(conn: &Connection, path: &Path) -> Result<u32, StateError> {
    let corrupt = |detail: String| StateError::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    let classify = |what: &'static str| {
        move |e: rusqlite::Error| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase)
            | Some(rusqlite::ErrorCode::DatabaseCorrupt) => corrupt(format!("{what}: {e}")),
            _ => sql_err(path, what)(e),
        }
    };
    let version = user_version(conn).map_err(classify("reading the schema version"))?;
    let mut stmt = conn
        .prepare("PRAGMA quick_check")
        .map_err(classify("running quick_check"))?;
    let problems: Vec<String> = stmt
        .query_map([], |row| row.get::<_, String>(0))
        .map_err(classify("running quick_check"))?
        .collect::<Result<_, _>>()
        .map_err(classify("running quick_check"))?;
    if problems.len() != 1 || problems[0] != "ok" {
        let mut detail = problems.into_iter().take(3).collect::<Vec<_>>().join("; ");
        if detail.is_empty() {
            detail = "quick_check returned nothing".to_string();
        }
        return Err(corrupt(format!("quick_check: {detail}")));
    }
    Ok(version)
}

pub(super) fn user_version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
}
