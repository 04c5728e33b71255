//! Crash-safe writes: every file and every folder that must appear whole is built under a
//! temporary name beside its destination, made durable, and renamed into place, so a reader (or
//! a resumed run) never sees half of it and a kill leaves the old version (or nothing).
//!
//! # The protocol
//! [`atomic_write`] (every file the crate writes goes through it):
//! 1. create a temporary file `.<name>.<random>.tmp` in the destination's folder
//!    ([`tempfile`], created exclusively, so concurrent writers never share one);
//! 2. write it, flush it, `fsync` it;
//! 3. rename it onto the destination (`tempfile`'s `persist`, one `rename(2)`);
//! 4. `fsync` the folder, so the new name is durable too.
//!
//! [`atomic_dir`] does the same for a whole folder (checkpoints, `final/`, stage snapshots, the
//! units of `reproduce`): the files go into a temporary folder `.<name>.<random>.tmp`, which is
//! synced, renamed into place and its parent folder synced. No reader looks inside that folder
//! before the rename, so a file [`atomic_write`] writes there (on the thread running the
//! folder's `fill`) needs no temporary name of its own: it is written in place and synced, and
//! each folder that received such files is synced once before the rename (steps 1, 3 and 4 per
//! file would cost two more syncs each: a checkpoint of 7 files took 18 syncs, now 11).
//!
//! A kill can leave a temporary file or folder behind; [`remove_stale_temps`] removes them and is
//! run by whoever resumes the work in that folder. Temporary names start with `.` and end with
//! `.tmp` ([`is_temp_name`]); the crate writes no other names of that shape.

use crate::error::{Error, Result};
use crate::formats::killpoint::kill_point;
use std::cell::RefCell;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

thread_local! {
    /// The temporary folders [`atomic_dir`] is filling on this thread (innermost last), each
    /// with the folders under it that received files written in place.
    static FILLING: RefCell<Vec<(PathBuf, Vec<PathBuf>)>> = const { RefCell::new(Vec::new()) };
}

/// If `dir` lies inside a temporary folder this thread's [`atomic_dir`] is filling: notes that
/// `dir` must be synced before that folder is renamed, and returns true.
fn inside_filling(dir: &Path) -> bool {
    FILLING.with(|f| {
        let mut f = f.borrow_mut();
        match f.last_mut() {
            Some((root, dirs)) if dir.starts_with(root.as_path()) => {
                if !dirs.iter().any(|d| d == dir) {
                    dirs.push(dir.to_path_buf());
                }
                true
            }
            _ => false,
        }
    })
}

/// Marks `tmp` as being filled by [`atomic_dir`] until dropped; `finish` syncs the folders
/// that received files written in place.
struct Filling {
    depth: usize,
}

impl Filling {
    fn start(tmp: &Path) -> Self {
        FILLING.with(|f| {
            let mut f = f.borrow_mut();
            f.push((tmp.to_path_buf(), Vec::new()));
            Filling { depth: f.len() }
        })
    }

    /// Syncs the folders under the temporary folder that received files written in place
    /// (the temporary folder itself is `atomic_dir`'s to sync).
    fn finish(self) -> Result<()> {
        let (root, dirs) = FILLING.with(|f| {
            let mut f = f.borrow_mut();
            f.truncate(self.depth);
            f.last_mut()
                .map(|(r, d)| (r.clone(), std::mem::take(d)))
                .unwrap_or_default()
        });
        for d in dirs.iter().filter(|d| **d != root) {
            sync_dir(d)?;
        }
        Ok(())
    }
}

impl Drop for Filling {
    fn drop(&mut self) {
        // An error or a panic in `fill`: this folder is no longer being filled.
        let _ = FILLING.try_with(|f| f.borrow_mut().truncate(self.depth - 1));
    }
}

/// Writes a file atomically and durably (module docs): `fill` writes into a temporary file
/// beside `path`, which is synced and renamed onto `path`; then the folder is synced. Parent
/// folders are created.
///
/// # Errors
/// [`Error::Io`] naming `path` when anything fails; the temporary file is then removed.
pub fn atomic_write<F>(path: &Path, fill: F) -> Result<()>
where
    F: FnOnce(&mut dyn Write) -> std::io::Result<()>,
{
    write_with(path, None, fill)
}

/// [`atomic_write`] with a fixed temporary name `.<name>.<tag>.tmp` instead of a random one, for
/// a file that several processes may write (the top-level manifest of a sharded `reproduce`):
/// each writer uses its own `tag`, and a writer removes its own stale temporary file (left by a
/// kill) before it starts, so none is left behind by a later successful run.
pub fn atomic_write_tagged<F>(path: &Path, tag: &str, fill: F) -> Result<()>
where
    F: FnOnce(&mut dyn Write) -> std::io::Result<()>,
{
    write_with(path, Some(tag), fill)
}

fn write_with<F>(path: &Path, tag: Option<&str>, fill: F) -> Result<()>
where
    F: FnOnce(&mut dyn Write) -> std::io::Result<()>,
{
    let dir = parent_of(path);
    fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    if tag.is_none() && inside_filling(&dir) {
        return write_in_place(path, fill);
    }
    let name = file_name(path);
    let prefix = match tag {
        Some(tag) => format!(".{name}.{tag}"),
        None => format!(".{name}."),
    };
    let mut b = tempfile::Builder::new();
    b.prefix(&prefix).suffix(".tmp");
    plain_permissions(&mut b, 0o666);
    if tag.is_some() {
        let stale = dir.join(format!("{prefix}.tmp"));
        match fs::remove_file(&stale) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&stale, e)),
        }
        b.rand_bytes(0);
    }
    let tmp = b.tempfile_in(&dir).map_err(|e| Error::io(path, e))?;
    let res = (|| -> std::io::Result<()> {
        let mut w = BufWriter::new(tmp.as_file());
        fill(&mut w)?;
        w.flush()?;
        drop(w);
        kill_point("atomic.filled");
        tmp.as_file().sync_all()
    })();
    // On an error the temporary file is removed when `tmp` drops.
    res.map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    kill_point("atomic.renamed");
    sync_dir(&dir)
}

/// A file inside a folder [`atomic_dir`] is filling (module docs): written under its own name
/// and synced; its folder is synced by `atomic_dir` before the rename. The kill points are those
/// of the full protocol, `atomic.renamed` once the file is synced.
fn write_in_place<F>(path: &Path, fill: F) -> Result<()>
where
    F: FnOnce(&mut dyn Write) -> std::io::Result<()>,
{
    let file = fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let res = (|| -> std::io::Result<()> {
        let mut w = BufWriter::new(&file);
        fill(&mut w)?;
        w.flush()?;
        drop(w);
        kill_point("atomic.filled");
        file.sync_all()
    })();
    res.map_err(|e| Error::io(path, e))?;
    kill_point("atomic.renamed");
    Ok(())
}

/// Builds a folder atomically and durably (module docs): `fill` writes into a fresh temporary
/// folder beside `path` (with [`atomic_write`] for each file, which writes them in place there
/// and `atomic_dir` syncs their folders), which then replaces `path` (an
/// existing folder there is removed first) and the parent folder is synced. Returns what `fill`
/// returns.
///
/// # Errors
/// `fill`'s error (the temporary folder is then removed), or [`Error::Io`] naming `path`.
pub fn atomic_dir<R>(path: &Path, fill: impl FnOnce(&Path) -> Result<R>) -> Result<R> {
    let parent = parent_of(path);
    fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let name = file_name(path);
    let prefix = format!(".{name}.");
    let mut b = tempfile::Builder::new();
    b.prefix(&prefix).suffix(".tmp");
    plain_permissions(&mut b, 0o777);
    let tmp = b.tempdir_in(&parent).map_err(|e| Error::io(path, e))?;
    let filling = Filling::start(tmp.path());
    let out = fill(tmp.path())?;
    filling.finish()?;
    sync_dir(tmp.path())?;
    kill_point("dir.filled");
    if path.exists() {
        fs::remove_dir_all(path).map_err(|e| Error::io(path, e))?;
    }
    let tmp_path = tmp.keep();
    fs::rename(&tmp_path, path).map_err(|e| {
        let _ = fs::remove_dir_all(&tmp_path);
        Error::io(path, e)
    })?;
    kill_point("dir.renamed");
    sync_dir(&parent)?;
    Ok(out)
}

/// A write (a checkpoint, a stage snapshot) running on a thread of its own, at the lower
/// priority [`BACKGROUND_NICE`], while the caller goes on; [`BackgroundWrite::wait`] returns its result. Dropped without `wait`, it is still
/// waited for (its error then lost), so no write outlives the one who started it.
#[derive(Debug)]
pub struct BackgroundWrite {
    path: PathBuf,
    handle: Option<std::thread::JoinHandle<Result<()>>>,
}

impl BackgroundWrite {
    /// Runs `write` on a new thread named `name`; `path` names the write in errors.
    ///
    /// # Errors
    /// [`Error::Io`] naming `path` when the thread cannot be started.
    pub fn spawn(
        name: &str,
        path: PathBuf,
        write: impl FnOnce() -> Result<()> + Send + 'static,
    ) -> Result<Self> {
        let handle = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                lower_priority();
                write()
            })
            .map_err(|e| Error::io(&path, e))?;
        Ok(BackgroundWrite {
            path,
            handle: Some(handle),
        })
    }

    /// Waits for the write to end and returns its result (a panic in it as [`Error::Io`]
    /// naming its path).
    pub fn wait(mut self) -> Result<()> {
        self.join()
    }

    fn join(&mut self) -> Result<()> {
        match self.handle.take() {
            Some(h) => h.join().unwrap_or_else(|_| {
                Err(Error::io(
                    &self.path,
                    std::io::Error::other("the writing thread stopped with a panic"),
                ))
            }),
            None => Ok(()),
        }
    }
}

/// The nice value of a background write's thread ([`BackgroundWrite`]).
///
/// A lower priority lets the write take mostly the cores the training leaves idle (at
/// p = 23 on 2 cores the run took 4 % less time with the writes at nice 19 than at nice 0,
/// and 2 % more at nice 10 than at 19: within that run's noise). Not 19: a thread cannot
/// raise its priority again, and the run waits for its writes at the next checkpoint, so on
/// a core shared with another user's process (weight 1024 at nice 0) a write at nice 19
/// (weight 15) would get 1.4 % of the core and hold the run up 70 times longer than its own
/// CPU time; at nice 10 (weight 110), 10 times.
pub const BACKGROUND_NICE: i32 = 10;

/// Gives the calling thread the priority [`BACKGROUND_NICE`] (Linux: nice is per thread).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority on this thread's own id; failure leaves the priority as it was.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, BACKGROUND_NICE);
    }
}

impl Drop for BackgroundWrite {
    fn drop(&mut self) {
        let _ = self.join();
    }
}

/// Makes the entries of folder `dir` (creations, renames) durable: `fsync` on the folder. A
/// no-op where folders cannot be opened as files (not Unix).
pub fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        let f = fs::File::open(dir).map_err(|e| Error::io(dir, e))?;
        f.sync_all().map_err(|e| Error::io(dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// True for the names [`atomic_write`] and [`atomic_dir`] give their temporary files and
/// folders: a leading `.` and a trailing `.tmp`, with something between.
pub fn is_temp_name(name: &str) -> bool {
    name.len() > ".tmp".len() + 1 && name.starts_with('.') && name.ends_with(".tmp")
}

/// Removes every temporary file or folder ([`is_temp_name`]) under `dir`, recursively, left
/// there by a killed writer; returns how many it removed. Call it only on a folder no other
/// live process writes into. A missing `dir` holds none.
pub fn remove_stale_temps(dir: &Path) -> Result<usize> {
    let mut removed = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(&d, e)),
        };
        for e in entries {
            let e = e.map_err(|e| Error::io(&d, e))?;
            let path = e.path();
            let is_dir = e.file_type().map_err(|e| Error::io(&path, e))?.is_dir();
            if is_temp_name(&e.file_name().to_string_lossy()) {
                let r = if is_dir {
                    fs::remove_dir_all(&path)
                } else {
                    fs::remove_file(&path)
                };
                r.map_err(|e| Error::io(&path, e))?;
                removed += 1;
            } else if is_dir {
                stack.push(path);
            }
        }
    }
    Ok(removed)
}

/// The folder holding `path` (`.` for a bare file name).
fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Gives the temporary file or folder the permissions `File::create` / `create_dir` would
/// (`mode` less the umask: 0o666 for files, 0o777 for folders), not `tempfile`'s private 0o600 /
/// 0o700, since it becomes the output itself.
fn plain_permissions(b: &mut tempfile::Builder, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = (b, mode);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_and_leave_no_temporary() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.csv");
        atomic_write(&p, |w| w.write_all(b"one")).unwrap();
        atomic_write(&p, |w| w.write_all(b"two")).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(d.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "only the file itself");
    }

    #[test]
    fn a_failed_fill_keeps_the_old_file_and_no_temporary() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.csv");
        atomic_write(&p, |w| w.write_all(b"old")).unwrap();
        let e = atomic_write(&p, |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("disk full"))
        });
        assert!(e.is_err());
        assert_eq!(fs::read(&p).unwrap(), b"old");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn tagged_writes_remove_their_own_stale_temporary() {
        let d = tempfile::tempdir().unwrap();
        let stale = d.path().join(".m.csv.s1.tmp");
        fs::write(&stale, b"left by a kill").unwrap();
        atomic_write_tagged(&d.path().join("m.csv"), "s1", |w| w.write_all(b"x")).unwrap();
        assert!(!stale.exists());
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn folders_appear_whole_and_replace_the_old_one() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("ck");
        fs::create_dir_all(&p).unwrap();
        fs::write(p.join("stale.npy"), b"old").unwrap();
        atomic_dir(&p, |t| {
            atomic_write(&t.join("a.npy"), |w| w.write_all(b"new"))
        })
        .unwrap();
        assert_eq!(fs::read(p.join("a.npy")).unwrap(), b"new");
        assert!(!p.join("stale.npy").exists());
        let e: Result<()> = atomic_dir(&d.path().join("never"), |_| {
            Err(Error::io("x", std::io::Error::other("fails")))
        });
        assert!(e.is_err());
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1, "no temporary");
    }

    /// Writes `path` by [`atomic_write`] and says whether the file already had its own name
    /// while being written (in place) rather than a temporary one (the rename protocol).
    fn written_in_place(path: &Path) -> bool {
        let mut seen = false;
        atomic_write(path, |w| {
            seen = path.exists();
            w.write_all(b"x")
        })
        .unwrap();
        assert_eq!(fs::read(path).unwrap(), b"x");
        seen
    }

    #[test]
    fn inside_a_folder_being_built_files_are_written_in_place() {
        let d = tempfile::tempdir().unwrap();
        let elsewhere = d.path().join("other");
        let p = d.path().join("ck");
        atomic_dir(&p, |t| {
            assert!(written_in_place(&t.join("a.npy")));
            assert!(
                written_in_place(&t.join("sub/deeper/b.csv")),
                "subfolders too"
            );
            assert!(
                !written_in_place(&elsewhere.join("c.csv")),
                "not outside it"
            );
            atomic_dir(&t.join("inner"), |u| {
                assert!(written_in_place(&u.join("d.csv")));
                Ok(())
            })?;
            assert!(written_in_place(&t.join("e.csv")), "after a nested folder");
            Ok(())
        })
        .unwrap();
        for f in ["a.npy", "sub/deeper/b.csv", "inner/d.csv", "e.csv"] {
            assert_eq!(fs::read(p.join(f)).unwrap(), b"x", "{f}");
        }
        assert_eq!(remove_stale_temps(d.path()).unwrap(), 0);
        // Once the folder is renamed, or its fill failed, the full protocol again.
        assert!(!written_in_place(&p.join("z.csv")));
        let e: Result<()> = atomic_dir(&d.path().join("never"), |_| {
            Err(Error::io("x", std::io::Error::other("fails")))
        });
        assert!(e.is_err());
        assert!(!written_in_place(&d.path().join("never/a.csv")));
    }

    #[test]
    fn stale_temporaries_are_found_at_any_depth() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("a/.ck.x1.tmp")).unwrap();
        fs::write(d.path().join("a/.ck.x1.tmp/W_in.npy"), b"").unwrap();
        fs::write(d.path().join("a/.W.csv.y2.tmp"), b"").unwrap();
        fs::write(d.path().join("a/keep.csv"), b"").unwrap();
        fs::write(d.path().join(".hidden"), b"").unwrap();
        assert_eq!(remove_stale_temps(d.path()).unwrap(), 2);
        assert!(d.path().join("a/keep.csv").exists());
        assert!(d.path().join(".hidden").exists());
        assert!(!is_temp_name(".tmp") && is_temp_name(".a.b.tmp"));
    }
}
